import ipaddr from 'ipaddr.js';

/**
 * Index terms for CIDR-aware target filtering without scanning tasks. Every address target (address,
 * CIDR, range) is stored as the aligned CIDR blocks that cover it; CIDR blocks are nested or disjoint,
 * so a query block overlaps a task block exactly when one contains the other:
 *   - task blocks containing the query: the query's own prefixes (≤ 33 terms for IPv4, 129 for IPv6);
 *   - task blocks inside the query: a lexicographic range over the block starts (`lexRanges`).
 * Host names are stored with each parent domain, so `example.com` matches `scan.example.com`.
 */

type Family = 4 | 6;

interface Block {
  family: Family;
  start: bigint;
  prefix: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };
const HEX_WIDTH: Record<Family, number> = { 4: 8, 6: 32 };
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

function hostName(raw: string): string | null {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  return HOST_NAME.test(name) && !name.includes('..') ? name : null;
}

/** `<family>:<fixed-width hex start>:<prefix>`: sorts by start, so a lex range finds blocks inside a span. */
function blockId(block: Block): string {
  return `${block.family}:${block.start.toString(16).padStart(HEX_WIDTH[block.family], '0')}:${block.prefix}`;
}

/** Term of an address block (its key suffix); `blockId` is what the lexicographic set holds. */
export function netTerm(blockIdText: string): string {
  return `n:${blockIdText}`;
}

/** The terms a task is indexed under, for its targets (as given and as resolved). */
export function targetTerms(targets: readonly string[]): { terms: string[]; blocks: string[] } {
  const blocks = new Set<string>();
  const hosts = new Set<string>();
  for (const target of targets) {
    const parsed = parseBlocks(target);
    if (parsed) {
      parsed.forEach((b) => blocks.add(blockId(b)));
      continue;
    }
    const name = hostName(target);
    if (!name) continue;
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) hosts.add(`h:${labels.slice(i).join('.')}`);
  }
  return { terms: [...[...blocks].map(netTerm), ...hosts], blocks: [...blocks] };
}

/** How to find the tasks whose targets overlap a query. */
export interface TargetQueryPlan {
  /** Term keys to union: the query's own prefixes, or the host name. */
  terms: string[];
  /** Lexicographic ranges (inclusive bounds for ZRANGEBYLEX) of blocks lying inside a query block. */
  lexRanges: Array<{ min: string; max: string; prefix: number }>;
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
  const lexRanges: TargetQueryPlan['lexRanges'] = [];
  for (const block of blocks) {
    for (let prefix = 0; prefix <= block.prefix; prefix++) {
      terms.add(netTerm(blockId(alignedBlock(block.family, block.start, prefix))));
    }
    const bits = BITS[block.family];
    if (block.prefix < bits) {
      const width = HEX_WIDTH[block.family];
      const last = block.start + (1n << BigInt(bits - block.prefix)) - 1n;
      lexRanges.push({
        min: `[${block.family}:${block.start.toString(16).padStart(width, '0')}:`,
        // ';' sorts right after ':', so every block starting at `last` is included.
        max: `[${block.family}:${last.toString(16).padStart(width, '0')};`,
        prefix: block.prefix,
      });
    }
  }
  return { terms: [...terms], lexRanges };
}

/** Whether a block id found by a lex range lies strictly inside the query block of that range. */
export function isInsideRange(blockIdText: string, range: { prefix: number }): boolean {
  const prefix = Number(blockIdText.slice(blockIdText.lastIndexOf(':') + 1));
  return prefix > range.prefix;
}
