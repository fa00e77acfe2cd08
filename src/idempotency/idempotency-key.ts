import { createHash } from 'node:crypto';
import { ValidationError } from '../common/errors';

/** Where an idempotency key may come from; header values as Node delivers them. */
export interface IdempotencyKeySources {
  header?: string | string[];
  xHeader?: string | string[];
  argument?: string | null;
}

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

const HEADER_FIELD = 'Idempotency-Key';
const X_HEADER_FIELD = 'X-Idempotency-Key';
const ARGUMENT_FIELD = 'idempotency_key';

// Visible ASCII plus space: what an HTTP header can carry unambiguously (no CR/LF, no control, no non-ASCII).
const PRINTABLE = /^[\x20-\x7e]+$/;
// RFC 8941 sf-string: the draft's wire form ("…" with \" and \\ escapes); bare tokens are accepted as well.
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;

/**
 * The caller's idempotency key from the `Idempotency-Key` / `X-Idempotency-Key` headers or the
 * `idempotency_key` argument; null when none is given. Throws ValidationError naming the field when
 * a key is malformed or when the sources disagree. The returned key must only be used via scopedKeyHash.
 */
export function resolveIdempotencyKey(sources: IdempotencyKeySources): string | null {
  const found: { field: string; key: string }[] = [];
  const header = fromHeader(HEADER_FIELD, sources.header);
  if (header !== null) found.push({ field: HEADER_FIELD, key: header });
  const xHeader = fromHeader(X_HEADER_FIELD, sources.xHeader);
  if (xHeader !== null) found.push({ field: X_HEADER_FIELD, key: xHeader });
  if (sources.argument !== undefined && sources.argument !== null) {
    found.push({ field: ARGUMENT_FIELD, key: validated(ARGUMENT_FIELD, sources.argument) });
  }
  if (found.length === 0) return null;
  const [first, ...rest] = found;
  for (const other of rest) {
    if (other.key !== first.key) {
      throw ValidationError.forFields({
        [other.field]: `differs from ${first.field}; send one key, or the same key in both`,
      });
    }
  }
  return first.key;
}

/**
 * The only form in which a key is stored or logged: hex SHA-256 over the client id and the key, so two
 * clients' equal keys never meet and the raw key never leaves the request.
 */
export function scopedKeyHash(clientId: string, key: string): string {
  // NUL cannot occur in a valid key, so the split point is unambiguous.
  return createHash('sha256').update(clientId).update('\0').update(key).digest('hex');
}

// Header values lose surrounding optional white space (SP/HTAB, RFC 9110), never other characters.
function fromHeader(field: string, value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  const values = (Array.isArray(value) ? value : [value]).map((v) =>
    validated(field, unquote(field, v.replace(/^[ \t]+|[ \t]+$/g, ''))),
  );
  if (values.length === 0) return null;
  if (values.some((v) => v !== values[0])) {
    throw ValidationError.forFields({ [field]: 'header repeated with different values' });
  }
  return values[0];
}

function unquote(field: string, raw: string): string {
  if (!raw.startsWith('"')) return raw;
  const m = SF_STRING.exec(raw);
  if (!m)
    throw ValidationError.forFields({
      [field]: 'starts with a quote but is not a valid structured-field string',
    });
  return m[1].replace(/\\(["\\])/g, '$1');
}

function validated(field: string, key: string): string {
  if (typeof key !== 'string') throw ValidationError.forFields({ [field]: 'must be a string' });
  const trimmed = key.replace(/^ +| +$/g, '');
  if (trimmed.length === 0) throw ValidationError.forFields({ [field]: 'must not be empty' });
  if (trimmed.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw ValidationError.forFields({ [field]: `must be at most ${IDEMPOTENCY_KEY_MAX_LENGTH} characters` });
  }
  if (!PRINTABLE.test(trimmed)) {
    throw ValidationError.forFields({
      [field]: 'must contain only printable ASCII characters (no control characters, CR/LF or non-ASCII)',
    });
  }
  return trimmed;
}
