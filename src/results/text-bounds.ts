/** Bounds on untrusted scan text, so one host's output can neither flood memory nor an agent's context. */

/** Free text (plugin output, description, solution…) beyond this many UTF-8 bytes is cut. */
export const LONG_TEXT_LIMIT_BYTES = 4096;
/** Names, vectors, dates and list elements beyond this are cut. */
export const SHORT_TEXT_LIMIT_BYTES = 512;
/** At most this many elements are kept per list field (cve, xref…). */
export const MAX_LIST_ELEMENTS = 5000;
/** At most this many unrecognised ReportItem children are kept in `other`. */
export const MAX_OTHER_FIELDS = 64;

const encoder = new TextEncoder();

/**
 * A flat copy of `text`. Strings cut from a parser's input can be slices that keep the whole input
 * chunk alive; anything kept beyond the current item is copied so retained memory stays small.
 */
export function ownCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

export function truncationMarker(droppedBytes: number): string {
  return `…[truncated ${droppedBytes} bytes]`;
}

/**
 * The longest prefix of `text` that fits in `limitBytes` of UTF-8 without splitting a character,
 * and how many bytes of `text` it leaves out.
 */
export function utf8Prefix(text: string, limitBytes: number): { prefix: string; droppedBytes: number } {
  if (text.length * 3 <= limitBytes) return { prefix: text, droppedBytes: 0 };
  const bytes = Buffer.byteLength(text);
  if (bytes <= limitBytes) return { prefix: text, droppedBytes: 0 };
  const buf = new Uint8Array(limitBytes);
  const { read } = encoder.encodeInto(text, buf);
  const prefix = text.slice(0, read);
  return { prefix, droppedBytes: bytes - Buffer.byteLength(prefix) };
}

/** Cuts `text` to `limitBytes` of UTF-8 and appends a marker saying how much was left out. */
export function truncateText(text: string, limitBytes: number): string {
  const { prefix, droppedBytes } = utf8Prefix(text, limitBytes);
  return droppedBytes === 0 ? text : prefix + truncationMarker(droppedBytes);
}

/**
 * Collects the text of one element arriving in pieces, keeping at most `limitBytes` of it and only
 * counting the rest: memory stays bounded whatever a plugin printed.
 */
export class BoundedText {
  private kept = '';
  private droppedBytes = 0;
  private full = false;

  constructor(private readonly limitBytes: number) {}

  append(piece: string): void {
    if (this.full) {
      this.droppedBytes += Buffer.byteLength(piece);
      return;
    }
    this.kept += piece;
    // Past `limitBytes` UTF-16 units the text is surely over the byte limit: cut now. Below it,
    // memory is bounded anyway and value() checks the bytes once.
    if (this.kept.length > this.limitBytes) this.cut();
  }

  private cut(): void {
    const { prefix, droppedBytes } = utf8Prefix(this.kept, this.limitBytes);
    if (droppedBytes > 0) {
      this.kept = prefix;
      this.droppedBytes += droppedBytes;
      this.full = true;
    }
  }

  get truncated(): boolean {
    if (!this.full) this.cut();
    return this.droppedBytes > 0;
  }

  /** The text with outer white space trimmed, and the truncation marker if anything was cut. */
  value(): string {
    if (!this.full) this.cut();
    if (this.droppedBytes === 0) return this.kept.trim();
    return this.kept.trimStart() + truncationMarker(this.droppedBytes);
  }
}
