/**
 * The findings store of one task directory, written once at export time and read by every
 * get_scan_results call:
 * - `findings.ndjson`: one JSON finding per line, in report order (the full records, with null and
 *   empty fields left out; profiles.ts `project` restores them);
 * - `findings.idx`: a compact columnar index — dictionary-coded strings, numbers, booleans and the
 *   CVE list of every finding, the byte offset of each NDJSON line, and the display order
 *   (severity descending, then report order) — so a filtered page is computed from the index and
 *   reads only its own lines.
 * Both files are written under temporary names and renamed, the index last: a store is complete
 * exactly when its index exists and names the NDJSON size it was written with.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';

import type { Finding, FindingField } from './finding';
import { type FilterCondition, matchesAll, matchesValue } from './filters';
import { ownCopy } from './text-bounds';

export const FINDINGS_FILE = 'findings.ndjson';
export const INDEX_FILE = 'findings.idx';
const MAGIC = 'NMGIDX1\n';
const FORMAT_VERSION = 1;

/** Fields held in the index, by how they are stored. Other fields are filtered from the NDJSON. */
const DICT_FIELDS = [
  'host',
  'host_ip',
  'host_fqdn',
  'os',
  'protocol',
  'service',
  'plugin_name',
  'plugin_family',
  'severity_label',
  'risk_factor',
  'synopsis',
  'cvss_vector',
  'cvss3_vector',
] as const satisfies readonly FindingField[];
const NUMBER_FIELDS = [
  'port',
  'plugin_id',
  'severity',
  'cvss_score',
  'cvss_base_score',
  'cvss3_base_score',
  'vpr_score',
  'epss_score',
] as const satisfies readonly FindingField[];
const BOOL_FIELDS = ['exploit_available'] as const satisfies readonly FindingField[];
const LIST_FIELDS = ['cve'] as const satisfies readonly FindingField[];

type Typed = Float64Array | Int32Array | Uint8Array;
type SectionType = 'f64' | 'i32' | 'u8';

/**
 * An append-only column in fixed-size blocks, memory close to what is used. Only the first block starts
 * small and doubles up to the block size: a store of a few dozen findings (25 columns) would
 * otherwise allocate and zero ~8 MB.
 */
class Growable<T extends Typed> {
  private static readonly BLOCK = 1 << 16;
  private static readonly FIRST = 256;
  private readonly blocks: T[] = [];
  length = 0;
  constructor(private readonly make: (n: number) => T) {}
  push(v: number): void {
    const at = this.length % Growable.BLOCK;
    if (this.blocks.length === 0) this.blocks.push(this.make(Growable.FIRST));
    else if (at === 0) this.blocks.push(this.make(Growable.BLOCK));
    let block = this.blocks[this.blocks.length - 1];
    if (at >= block.length) {
      const bigger = this.make(Math.min(Growable.BLOCK, block.length * 2));
      bigger.set(block);
      this.blocks[this.blocks.length - 1] = block = bigger;
    }
    block[at] = v;
    this.length++;
  }
  get(i: number): number {
    return this.blocks[Math.floor(i / Growable.BLOCK)][i % Growable.BLOCK];
  }
  /** The used part of each block, in order. */
  *chunks(): Generator<T> {
    for (let b = 0; b < this.blocks.length; b++) {
      const used = Math.min(Growable.BLOCK, this.length - b * Growable.BLOCK);
      yield this.blocks[b].subarray(0, used) as T;
    }
  }
  get type(): SectionType {
    const sample = this.make(0);
    return sample instanceof Float64Array ? 'f64' : sample instanceof Int32Array ? 'i32' : 'u8';
  }
}

const f64 = (n: number) => new Float64Array(n);
const i32 = (n: number) => new Int32Array(n);
const u8 = (n: number) => new Uint8Array(n);

class Dictionary {
  private readonly codes = new Map<string, number>();
  readonly values: string[] = [];
  code(value: string): number {
    let c = this.codes.get(value);
    if (c === undefined) {
      c = this.values.length;
      const own = ownCopy(value);
      this.values.push(own);
      this.codes.set(own, c);
    }
    return c;
  }
}

interface SectionRef {
  type: SectionType;
  offset: number;
  length: number;
}

type ColumnHeader =
  | { kind: 'dict'; dict: string[]; codes: string }
  | { kind: 'number'; values: string }
  | { kind: 'bool'; values: string }
  | { kind: 'list'; dict: string[]; starts: string; items: string };

interface IndexHeader<M> {
  version: number;
  count: number;
  ndjson_bytes: number;
  meta: M;
  sections: Record<string, SectionRef>;
  columns: Record<string, ColumnHeader>;
}

const NULL_CODE = -1;
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
const SLAB_BYTES = 256 * 1024;
const BOOL_NULL = 2;

/**
 * Deletes temporary files a crashed writer left in `dir`. Only one ingestion runs per task at a
 * time (job ids are per task and step), so any temporary file found here is an orphan.
 */
export async function removeStaleTemporaries(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter(
    (n) => n.startsWith(`${FINDINGS_FILE}.tmp-`) || n.startsWith(`${INDEX_FILE}.tmp-`),
  );
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
}

/** Streams findings into a new store; nothing is visible under the final names until commit(). */
export class FindingsStoreWriter<M = unknown> {
  private readonly suffix = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly ndjsonTemp: string;
  private readonly indexTemp: string;
  private readonly out: WriteStream;
  // NDJSON lines are encoded straight into Buffer slabs: joining them as strings first would make
  // large strings, which V8 allocates slowly, and encode every byte twice.
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private slabUsed = 0;
  private filled: Buffer[] = [];
  private pendingBytes = 0;
  private bytes = 0;
  private count = 0;
  private readonly offsets = new Growable(f64);
  private readonly dicts = new Map<string, { dict: Dictionary; codes: Growable<Int32Array> }>();
  private readonly numbers = new Map<string, Growable<Float64Array>>();
  private readonly bools = new Map<string, Growable<Uint8Array>>();
  private readonly lists = new Map<
    string,
    { dict: Dictionary; starts: Growable<Int32Array>; items: Growable<Int32Array> }
  >();
  private failure: Error | null = null;

  constructor(private readonly dir: string) {
    this.ndjsonTemp = join(dir, FINDINGS_FILE + this.suffix);
    this.indexTemp = join(dir, INDEX_FILE + this.suffix);
    this.out = createWriteStream(this.ndjsonTemp, { flags: 'wx', highWaterMark: WRITE_BUFFER_BYTES });
    this.out.on('error', (err) => (this.failure ??= err));
    for (const f of DICT_FIELDS) this.dicts.set(f, { dict: new Dictionary(), codes: new Growable(i32) });
    for (const f of NUMBER_FIELDS) this.numbers.set(f, new Growable(f64));
    for (const f of BOOL_FIELDS) this.bools.set(f, new Growable(u8));
    for (const f of LIST_FIELDS) {
      const starts = new Growable(i32);
      starts.push(0);
      this.lists.set(f, { dict: new Dictionary(), starts, items: new Growable(i32) });
    }
  }

  /** Buffers one finding; call drain() regularly so the buffer is written out. */
  add(finding: Finding): void {
    const size = this.appendLine(JSON.stringify(compact(finding)));
    this.offsets.push(this.bytes);
    this.bytes += size;
    this.count++;
    const row = finding as unknown as Record<string, unknown>;
    for (const [f, col] of this.dicts) {
      const v = row[f];
      col.codes.push(typeof v === 'string' ? col.dict.code(v) : NULL_CODE);
    }
    for (const [f, col] of this.numbers) {
      const v = row[f];
      col.push(typeof v === 'number' ? v : NaN);
    }
    for (const [f, col] of this.bools) {
      const v = row[f];
      col.push(v === true ? 1 : v === false ? 0 : BOOL_NULL);
    }
    for (const [f, col] of this.lists) {
      const v = row[f];
      if (Array.isArray(v)) for (const item of v) col.items.push(col.dict.code(String(item)));
      col.starts.push(col.items.length);
    }
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Writes out what add() buffered, waiting for the file stream when it pushes back. */
  async drain(): Promise<void> {
    if (this.failure) throw this.failure;
    this.retireSlab();
    if (this.filled.length === 0) return;
    const chunks = this.filled;
    this.filled = [];
    this.pendingBytes = 0;
    // Let the stream buffer a few MB so disk writes overlap with parsing; once() rejects on 'error'.
    this.out.cork();
    let flowing = true;
    for (const chunk of chunks) flowing = this.out.write(chunk);
    this.out.uncork();
    if (!flowing) await once(this.out, 'drain');
    if (this.failure) throw this.failure;
  }

  /** Encodes `line` and a newline into the current slab; returns the bytes taken. */
  private appendLine(line: string): number {
    const worst = line.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 code unit
    if (this.slabUsed + worst > this.slab.length) {
      this.retireSlab();
      if (worst > this.slab.length) this.slab = Buffer.allocUnsafe(worst);
    }
    const size = this.slab.write(line, this.slabUsed) + 1;
    this.slab[this.slabUsed + size - 1] = 0x0a;
    this.slabUsed += size;
    this.pendingBytes += size;
    return size;
  }

  private retireSlab(): void {
    if (this.slabUsed === 0) return;
    this.filled.push(this.slab.subarray(0, this.slabUsed));
    this.slab = Buffer.allocUnsafe(SLAB_BYTES);
    this.slabUsed = 0;
  }

  /** Finishes both files and moves them to their final names, the index last. */
  async commit(meta: M): Promise<void> {
    await this.drain();
    this.out.end();
    await once(this.out, 'close');
    if (this.failure) throw this.failure;
    await syncFile(this.ndjsonTemp);
    await this.writeIndex(meta);
    await rename(this.ndjsonTemp, join(this.dir, FINDINGS_FILE));
    await rename(this.indexTemp, join(this.dir, INDEX_FILE));
  }

  /** Drops the temporary files (after a parse error). */
  async abort(): Promise<void> {
    if (!this.out.closed) {
      this.out.destroy();
      await once(this.out, 'close').catch(() => undefined);
    }
    await rm(this.ndjsonTemp, { force: true });
    await rm(this.indexTemp, { force: true });
  }

  private async writeIndex(meta: M): Promise<void> {
    const parts: Array<Iterable<Typed>> = [];
    const sections: Record<string, SectionRef> = {};
    let offset = 0;
    const section = (name: string, data: Growable<Typed> | Typed): string => {
      const isColumn = data instanceof Growable;
      const type: SectionType = isColumn
        ? data.type
        : data instanceof Float64Array
          ? 'f64'
          : data instanceof Int32Array
            ? 'i32'
            : 'u8';
      sections[name] = { type, offset, length: data.length };
      parts.push(isColumn ? data.chunks() : [data]);
      offset += pad8(data.length * (type === 'f64' ? 8 : type === 'i32' ? 4 : 1));
      return name;
    };
    const columns: Record<string, ColumnHeader> = {};
    section('offsets', this.offsets);
    section('order', displayOrder(this.numbers.get('severity')!));
    for (const [f, col] of this.dicts) {
      columns[f] = { kind: 'dict', dict: col.dict.values, codes: section(`${f}.codes`, col.codes) };
    }
    for (const [f, col] of this.numbers) columns[f] = { kind: 'number', values: section(`${f}.values`, col) };
    for (const [f, col] of this.bools) columns[f] = { kind: 'bool', values: section(`${f}.values`, col) };
    for (const [f, col] of this.lists) {
      columns[f] = {
        kind: 'list',
        dict: col.dict.values,
        starts: section(`${f}.starts`, col.starts),
        items: section(`${f}.items`, col.items),
      };
    }
    const header: IndexHeader<M> = {
      version: FORMAT_VERSION,
      count: this.count,
      ndjson_bytes: this.bytes,
      meta,
      sections,
      columns,
    };
    const headerBytes = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(pad8(MAGIC.length + 4 + headerBytes.length));
    prefix.write(MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(headerBytes.length, MAGIC.length);
    headerBytes.copy(prefix, MAGIC.length + 4);

    // One gathered write: a store of a few findings has ~50 small sections, each a thread-pool round trip.
    const buffers: Buffer[] = [prefix];
    for (const chunks of parts) {
      let written = 0;
      for (const data of chunks) {
        buffers.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        written += data.byteLength;
      }
      const padding = pad8(written) - written;
      if (padding > 0) buffers.push(Buffer.alloc(padding));
    }
    const fh = await open(this.indexTemp, 'wx');
    try {
      const { bytesWritten } = await fh.writev(buffers);
      const total = buffers.reduce((n, b) => n + b.length, 0);
      if (bytesWritten !== total) throw new Error(`index write stopped at ${bytesWritten} of ${total} bytes`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** The finding without null, empty-list and empty-object fields: lines are smaller and faster to write. */
function compact(finding: Finding): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(finding)) {
    if (v === null || (Array.isArray(v) && v.length === 0)) continue;
    if (k === 'other' && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out;
}

function pad8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Row ids sorted by severity descending, report order within a severity (a counting sort). */
function displayOrder(severity: Growable<Float64Array>): Int32Array {
  const counts = [0, 0, 0, 0, 0];
  for (const chunk of severity.chunks()) for (const s of chunk) counts[s]++;
  const next = [0, 0, 0, 0, 0];
  for (let s = 3, at = counts[4]; s >= 0; s--) {
    next[s] = at;
    at += counts[s];
  }
  const order = new Int32Array(severity.length);
  for (let i = 0; i < severity.length; i++) order[next[severity.get(i)]++] = i;
  return order;
}

type ColumnView =
  | { kind: 'dict'; dict: string[]; codes: Int32Array }
  | { kind: 'number'; values: Float64Array }
  | { kind: 'bool'; values: Uint8Array }
  | { kind: 'list'; dict: string[]; starts: Int32Array; items: Int32Array };

/** Rows read from the NDJSON per batch when a filter needs fields the index does not hold. */
const SCAN_BATCH_ROWS = 2000;
/** Adjacent lines are fetched in one read up to this many bytes. */
const MAX_READ_SPAN = 4 * 1024 * 1024;

/** The store was replaced while being read (a re-ingest between the two renames); reading again will work. */
export class StoreChangedError extends Error {
  constructor(dir: string) {
    super(`the findings store in ${dir} is being replaced`);
    this.name = 'StoreChangedError';
  }
}

/** A committed store, opened read-only. Immutable once written, so instances are cached. */
export class FindingsStore<M = unknown> {
  private constructor(
    private readonly dir: string,
    private readonly header: IndexHeader<M>,
    private readonly offsets: Float64Array,
    private readonly order: Int32Array,
    private readonly columns: Map<string, ColumnView>,
  ) {}

  get count(): number {
    return this.header.count;
  }

  get meta(): M {
    return this.header.meta;
  }

  /** Opens the store in `dir`, or returns null if no complete store is there. */
  static async open<M = unknown>(dir: string): Promise<FindingsStore<M> | null> {
    const indexPath = join(dir, INDEX_FILE);
    let identity: string;
    try {
      const [idx, nd] = await Promise.all([stat(indexPath), stat(join(dir, FINDINGS_FILE))]);
      identity = `${idx.ino}:${idx.mtimeMs}:${idx.size}:${nd.size}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const cached = storeCache.get(dir);
    if (cached && cached.identity === identity) {
      storeCache.delete(dir);
      storeCache.set(dir, cached);
      return cached.store as FindingsStore<M>;
    }
    const store = FindingsStore.load<M>(dir, await readFile(indexPath), Number(identity.split(':').pop()));
    storeCache.set(dir, { identity, store });
    while (storeCache.size > STORE_CACHE_SIZE) storeCache.delete(storeCache.keys().next().value!);
    return store;
  }

  private static load<M>(dir: string, file: Buffer, ndjsonSize: number): FindingsStore<M> {
    if (file.toString('latin1', 0, MAGIC.length) !== MAGIC)
      throw new Error(`${INDEX_FILE} in ${dir} is not a findings index`);
    const headerLength = file.readUInt32LE(MAGIC.length);
    const header = JSON.parse(
      file.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + headerLength),
    ) as IndexHeader<M>;
    if (header.version !== FORMAT_VERSION)
      throw new Error(`${INDEX_FILE} in ${dir} has format ${header.version}`);
    if (header.ndjson_bytes !== ndjsonSize) throw new StoreChangedError(dir);
    const base = pad8(MAGIC.length + 4 + headerLength);
    // Typed-array views need an 8-byte aligned buffer; copy once if readFile's is not.
    const aligned = file.byteOffset % 8 === 0 ? file : Buffer.from(file);
    const view = (name: string): Typed => {
      const s = header.sections[name];
      const at = aligned.byteOffset + base + s.offset;
      if (s.type === 'f64') return new Float64Array(aligned.buffer, at, s.length);
      if (s.type === 'i32') return new Int32Array(aligned.buffer, at, s.length);
      return new Uint8Array(aligned.buffer, at, s.length);
    };
    const columns = new Map<string, ColumnView>();
    for (const [f, c] of Object.entries(header.columns)) {
      if (c.kind === 'dict')
        columns.set(f, { kind: 'dict', dict: c.dict, codes: view(c.codes) as Int32Array });
      else if (c.kind === 'number')
        columns.set(f, { kind: 'number', values: view(c.values) as Float64Array });
      else if (c.kind === 'bool') columns.set(f, { kind: 'bool', values: view(c.values) as Uint8Array });
      else {
        columns.set(f, {
          kind: 'list',
          dict: c.dict,
          starts: view(c.starts) as Int32Array,
          items: view(c.items) as Int32Array,
        });
      }
    }
    return new FindingsStore<M>(
      dir,
      header,
      view('offsets') as Float64Array,
      view('order') as Int32Array,
      columns,
    );
  }

  /** Ids of the findings matching every condition, in display order. */
  async select(conditions: readonly FilterCondition[]): Promise<Int32Array> {
    const indexed = conditions.filter((c) => this.columns.has(c.field));
    const rest = conditions.filter((c) => !this.columns.has(c.field));
    let ids = this.order;
    for (const c of indexed) ids = this.filterIndexed(ids, c);
    if (rest.length === 0 || ids.length === 0) return ids;

    const kept: number[] = [];
    for (let i = 0; i < ids.length; i += SCAN_BATCH_ROWS) {
      const batch = Array.from(ids.subarray(i, i + SCAN_BATCH_ROWS));
      const rows = await this.read(batch);
      for (let j = 0; j < batch.length; j++) if (matchesAll(rest, rows[j])) kept.push(batch[j]);
    }
    return Int32Array.from(kept);
  }

  private filterIndexed(ids: Int32Array, c: FilterCondition): Int32Array {
    const col = this.columns.get(c.field)!;
    const out = new Int32Array(ids.length);
    let n = 0;
    switch (col.kind) {
      case 'dict': {
        const hit = col.dict.map((v) => matchesValue(c, v));
        for (const id of ids) {
          const code = col.codes[id];
          if (code !== NULL_CODE && hit[code]) out[n++] = id;
        }
        break;
      }
      case 'list': {
        const hit = col.dict.map((v) => matchesValue(c, [v]));
        for (const id of ids) {
          for (let k = col.starts[id]; k < col.starts[id + 1]; k++) {
            if (hit[col.items[k]]) {
              out[n++] = id;
              break;
            }
          }
        }
        break;
      }
      case 'number':
        for (const id of ids) {
          const v = col.values[id];
          if (!Number.isNaN(v) && matchesValue(c, v)) out[n++] = id;
        }
        break;
      case 'bool':
        for (const id of ids) {
          const v = col.values[id];
          if (v !== BOOL_NULL && matchesValue(c, v === 1)) out[n++] = id;
        }
        break;
    }
    return out.subarray(0, n);
  }

  /** The stored findings with these ids, in the order given. */
  async read(ids: readonly number[]): Promise<Record<string, unknown>[]> {
    if (ids.length === 0) return [];
    const byOffset = [...new Set(ids)].sort((a, b) => a - b);
    const rows = new Map<number, Record<string, unknown>>();
    const fh = await open(join(this.dir, FINDINGS_FILE), 'r');
    try {
      if ((await fh.stat()).size !== this.header.ndjson_bytes) throw new StoreChangedError(this.dir);
      let i = 0;
      while (i < byOffset.length) {
        // Coalesce consecutive lines into one read.
        let j = i;
        while (
          j + 1 < byOffset.length &&
          byOffset[j + 1] === byOffset[j] + 1 &&
          this.end(byOffset[j + 1]) - this.offsets[byOffset[i]] <= MAX_READ_SPAN
        ) {
          j++;
        }
        const start = this.offsets[byOffset[i]];
        const buf = Buffer.allocUnsafe(this.end(byOffset[j]) - start);
        const { bytesRead } = await fh.read(buf, 0, buf.length, start);
        if (bytesRead !== buf.length)
          throw new Error(`${FINDINGS_FILE} in ${this.dir} is shorter than its index`);
        for (let k = i; k <= j; k++) {
          const id = byOffset[k];
          const from = this.offsets[id] - start;
          rows.set(
            id,
            JSON.parse(buf.toString('utf8', from, this.end(id) - start)) as Record<string, unknown>,
          );
        }
        i = j + 1;
      }
    } finally {
      await fh.close();
    }
    return ids.map((id) => rows.get(id)!);
  }

  private end(id: number): number {
    return id + 1 < this.header.count ? this.offsets[id + 1] : this.header.ndjson_bytes;
  }
}

/** Opened stores kept in memory: a task's results are immutable, so paging never reloads its index. */
const STORE_CACHE_SIZE = 8;
const storeCache = new Map<string, { identity: string; store: FindingsStore<unknown> }>();
