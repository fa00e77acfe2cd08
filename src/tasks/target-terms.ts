import ipaddr from 'ipaddr.js';

/**
 * Index terms for CIDR-aware target filtering without scanning tasks. Every address target (address,
 * CIDR, range) is stored as the aligned CIDR blocks that cover it; CIDR blocks are nested or disjoint,
 * so a query block overlaps a task block exactly when one contains the other:
 *   - task blocks containing the query: the query's own prefixes (≤ 33 terms for IPv4, 129 for IPv6);
 *   - task blocks inside the query: each block is also stored under the bucket of every level above it
 *     (IPv4 /8, /16, /24; IPv6 every 16 bits), so a wide query unions a few buckets instead of every
 *     block it contains; blocks between the query's prefix and the next level are found by a
 *     lexicographic range over the stored blocks of each prefix length (`lexRanges`).
 * Host names are stored with each parent domain, so `example.com` matches `scan.example.com`.
 */

export type Family = 4 | 6;

interface Block {
  family: Family;
  start: bigint;
  prefix: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };
const HEX_WIDTH: Record<Family, number> = { 4: 8, 6: 32 };
/** Bucket prefix lengths: a query unions at most 2^(gap between levels − 1) buckets of the next level. */
const LEVELS: Record<Family, number[]> = { 4: [8, 16, 24], 6: [16, 32, 48, 64, 80, 96, 112] };
const HOST_NAME = /^[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?$/;
/** One task target never expands into more blocks than this (a full IPv4 range needs at most 62). */
const MAX_BLOCKS_PER_TARGET = 256;

function toBig(addr: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return addr.toByteArray().reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
}

function familyOf(addr: ipaddr.IPv4 | ipaddr.IPv6): Family {
  return addr.kind() === 'ipv4' ? 4 : 6;
}

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const body = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // Four-part dotted decimal only: 10.0.0 or 167772165 are not read as addresses here.
  const valid = body.includes(':') ? ipaddr.IPv6.isValid(body) : ipaddr.IPv4.isValidFourPartDecimal(body);
  if (!valid) return null;
  // IPv4-mapped IPv6 names the same host as its IPv4 form.
  return ipaddr.process(body);
}

function alignedBlock(family: Family, addr: bigint, prefix: number): Block {
  const hostBits = BigInt(BITS[family] - prefix);
  return { family, start: (addr >> hostBits) << hostBits, prefix };
}

/** The fewest aligned CIDR blocks covering first..last. */
function rangeBlocks(family: Family, first: bigint, last: bigint): Block[] {
  const bits = BITS[family];
  const blocks: Block[] = [];
  let next = first;
  while (next <= last && blocks.length < MAX_BLOCKS_PER_TARGET) {
    let size = 0;
    while (size < bits && ((next >> BigInt(size)) & 1n) === 0n) size++;
    while (size > 0 && next + (1n << BigInt(size)) - 1n > last) size--;
    blocks.push({ family, start: next, prefix: bits - size });
    next += 1n << BigInt(size);
  }
  return blocks;
}

/** Address blocks of an address, CIDR or range (a.b.c.d-e.f.g.h or a.b.c.d-e); null for anything else. */
function parseBlocks(raw: string): Block[] | null {
  const text = raw.trim();
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseAddress(text.slice(0, slash));
    const prefixText = text.slice(slash + 1);
    if (!addr || !/^[0-9]{1,3}$/.test(prefixText)) return null;
    const family = familyOf(addr);
    const prefix = Number(prefixText);
    if (prefix > BITS[family]) return null;
    return [alignedBlock(family, toBig(addr), prefix)];
  }
  const dash = text.indexOf('-');
  if (dash > 0 && dash === text.lastIndexOf('-')) {
    const start = parseAddress(text.slice(0, dash));
    let endText = text.slice(dash + 1);
    if (start && start.kind() === 'ipv4' && /^[0-9]{1,3}$/.test(endText)) {
      endText = `${(start as ipaddr.IPv4).octets.slice(0, 3).join('.')}.${endText}`;
    }
    const end = parseAddress(endText);
    if (start && end && start.kind() === end.kind()) {
      const first = toBig(start);
      const last = toBig(end);
      return first <= last ? rangeBlocks(familyOf(start), first, last) : null;
    }
  }
  const addr = parseAddress(text);
  if (!addr) return null;
  const family = familyOf(addr);
  return [{ family, start: toBig(addr), prefix: BITS[family] }];
}

/** A DNS host name; one whose last label is all digits is a mistyped address (RFC 3696 §2), not a name. */
function hostName(raw: string): string | null {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  return HOST_NAME.test(name) && !name.includes('..') && !/(^|\.)[0-9]+$/.test(name) ? name : null;
}

/** `<family>:<fixed-width hex start>:<prefix>`: sorts by start, so a lex range finds blocks inside a span. */
function blockId(block: Block): string {
  return `${block.family}:${hex(block.family, block.start)}:${block.prefix}`;
}

function hex(family: Family, n: bigint): string {
  return n.toString(16).padStart(HEX_WIDTH[family], '0');
}

/**
 * The terms a task is indexed under, for its targets (as given and as resolved): `n:<block>` per address
 * block, `b:<bucket>` per bucket holding a block, `h:<name>` per host name and parent domain. The index
 * keeps the ids of `n:` and `b:` terms in one lexicographic set per kind, family and prefix length.
 */
export function targetTerms(targets: readonly string[]): string[] {
  const terms = new Set<string>();
  for (const target of targets) {
    const parsed = parseBlocks(target);
    if (parsed) {
      for (const block of parsed) {
        terms.add(`n:${blockId(block)}`);
        for (const level of LEVELS[block.family]) {
          if (level < block.prefix) terms.add(`b:${blockId(alignedBlock(block.family, block.start, level))}`);
        }
      }
      continue;
    }
    const name = hostName(target);
    if (!name) continue;
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) terms.add(`h:${labels.slice(i).join('.')}`);
  }
  return [...terms];
}

/** A lookup in the lexicographic set of `kind` terms of one family and prefix length. */
export interface LexRange {
  kind: 'n' | 'b';
  family: Family;
  prefix: number;
  /** Inclusive ZRANGEBYLEX bounds; every id found is the term `<kind>:<id>`. */
  min: string;
  max: string;
}

/** How to find the tasks whose targets overlap a query: the union of `terms` and of the terms found by `lexRanges`. */
export interface TargetQueryPlan {
  terms: string[];
  lexRanges: LexRange[];
}

export const TARGET_QUERY_PROBLEM = 'must be an address, CIDR, range (a.b.c.d-e.f.g.h) or host name';

/** Whether a list filter is an address, CIDR, range or host name: anything else is refused, not matched. */
export function isTargetQuery(query: string): boolean {
  return parseBlocks(query) !== null || hostName(query) !== null;
}

/**
 * A plan for a target filter: an address, CIDR or range matches every task target it overlaps
 * (10.0.0.5 matches 10.0.0.0/24, 10.0.0.0/24 matches 10.0.0.5); a host name matches itself and the
 * hosts under it. Anything else matches nothing (an empty plan).
 */
export function planTargetQuery(query: string): TargetQueryPlan {
  const blocks = parseBlocks(query);
  if (!blocks) {
    const name = hostName(query);
    return { terms: name ? [`h:${name}`] : [], lexRanges: [] };
  }
  const terms = new Set<string>();
  const lexRanges: LexRange[] = [];
  for (const block of blocks) {
    const { family, start, prefix: q } = block;
    // Task blocks equal to or containing the query block.
    for (let prefix = 0; prefix <= q; prefix++)
      terms.add(`n:${blockId(alignedBlock(family, start, prefix))}`);
    const bits = BITS[family];
    if (q === bits) continue;
    // Task blocks inside it: those deeper than the next level sit in that level's buckets inside the query
    // (one bucket, the query itself, when its prefix is a level); those above it are looked up directly.
    const level = LEVELS[family].find((l) => l >= q);
    const min = `[${family}:${hex(family, start)}:`;
    // ';' sorts right after ':', so every id starting at the last address is included.
    const max = `[${family}:${hex(family, start + (1n << BigInt(bits - q)) - 1n)};`;
    if (level === q) terms.add(`b:${blockId(block)}`);
    else if (level !== undefined) lexRanges.push({ kind: 'b', family, prefix: level, min, max });
    for (let prefix = q + 1; prefix <= (level ?? bits); prefix++) {
      lexRanges.push({ kind: 'n', family, prefix, min, max });
    }
  }
  return { terms: [...terms], lexRanges };
}
