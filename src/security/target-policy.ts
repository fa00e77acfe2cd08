import { promises as dns } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { ForbiddenTargetError, UnavailableError, ValidationError } from '../common/errors';

/** Splits a comma/white-space separated target list (or a list of such strings) into trimmed items. */
export function splitTargets(input: string | string[]): string[] {
  const parts = Array.isArray(input) ? input : [input];
  return parts
    .flatMap((p) => String(p).split(/[\s,]+/))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Limits and address space of a target policy (SPEC §8). */
export interface TargetPolicyOptions {
  /** TARGET_ALLOW: when non-empty, the only space targets may lie in (CIDRs, addresses or ranges). */
  allow: string[];
  /** TARGET_DENY: added to the built-in deny list; no allow entry overrides a deny entry. */
  deny: string[];
  /** MAX_TARGET_ADDRESSES: a request expanding past this many addresses is refused. */
  maxAddresses: number;
  /** Most items one request may name; default 256. */
  maxItems?: number;
  /** Longest single target string; default 255. */
  maxTargetLength?: number;
  /** Bound on resolving one host name; default 5000 ms. */
  resolveTimeoutMs?: number;
}

/** Resolves a host name to every address it has (A and AAAA). The port a TargetPolicy resolves through. */
export type Resolver = (hostname: string) => Promise<string[]>;

/** The outcome of a successful check. */
export interface CheckedTargets {
  /** The targets as given, normalised (canonical addresses, network-aligned CIDRs, lower-case names), de-duplicated. */
  targets: string[];
  /** What Nessus is sent: IP literals, CIDRs and ranges only; host names replaced by the addresses that were checked. */
  nessusTargets: string[];
  /** Addresses the request covers (host names count their addresses). */
  addressCount: number;
}

type Family = 'ipv4' | 'ipv6';

/** An inclusive interval of addresses of one family, as integers. */
interface Span {
  family: Family;
  first: bigint;
  last: bigint;
}

interface Rule {
  span: Span;
  label: string;
}

/** Default deny list: space no scan may touch, whatever TARGET_ALLOW says. Order decides which label a refusal names. */
const DEFAULT_DENY: ReadonlyArray<[string, string]> = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
  ['fd00:ec2::254/128', 'cloud metadata (AWS IPv6)'],
  ['64:ff9b:1::/48', 'local-use NAT64 (embeds IPv4)'],
  ['2001::/32', 'Teredo (tunnels to an embedded IPv4)'],
];

/** IPv6 prefixes that carry an IPv4 address; their targets are also checked as that IPv4 space. */
const IPV4_EMBEDDING: ReadonlyArray<{ cidr: string; via: string; shift: bigint }> = [
  { cidr: '::ffff:0:0/96', via: 'IPv4-mapped', shift: 0n },
  { cidr: '::/96', via: 'IPv4-compatible', shift: 0n },
  { cidr: '::ffff:0:0:0/96', via: 'IPv4-translated', shift: 0n },
  { cidr: '64:ff9b::/96', via: 'NAT64', shift: 0n },
  { cidr: '2002::/16', via: '6to4', shift: 80n },
];

const IPV4_CANONICAL = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A target parsed into the space it covers. `nonCanonical` says why a value must be re-written by the caller. */
interface ParsedLiteral {
  kind: 'literal';
  span: Span;
  normalised: string;
  nonCanonical?: string;
}
interface ParsedHost {
  kind: 'host';
  hostname: string;
}
type ParsedTarget = ParsedLiteral | ParsedHost;

function toBig(addr: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return addr.toByteArray().reduce((n, byte) => n * 256n + BigInt(byte), 0n);
}

function fromBig(family: Family, value: bigint): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes: number[] = [];
  let rest = value;
  for (let i = 0; i < (family === 'ipv4' ? 4 : 16); i++) {
    bytes.unshift(Number(rest % 256n));
    rest /= 256n;
  }
  return ipaddr.fromByteArray(bytes);
}

function show(span: Span): string {
  const first = fromBig(span.family, span.first).toString();
  return span.first === span.last ? first : `${first}-${fromBig(span.family, span.last).toString()}`;
}

function cidrSpan(addr: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): Span {
  const text = `${addr.toString()}/${prefix}`;
  if (addr.kind() === 'ipv4') {
    return {
      family: 'ipv4',
      first: toBig(ipaddr.IPv4.networkAddressFromCIDR(text)),
      last: toBig(ipaddr.IPv4.broadcastAddressFromCIDR(text)),
    };
  }
  return {
    family: 'ipv6',
    first: toBig(ipaddr.IPv6.networkAddressFromCIDR(text)),
    last: toBig(ipaddr.IPv6.broadcastAddressFromCIDR(text)),
  };
}

function overlaps(a: Span, b: Span): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** True when the union of `cover` spans contains every address of `span`. */
function covered(span: Span, cover: Span[]): boolean {
  let next = span.first;
  for (const c of cover
    .filter((s) => s.family === span.family)
    .sort((x, y) => (x.first < y.first ? -1 : 1))) {
    if (c.first > next) break;
    if (c.last >= next) next = c.last + 1n;
    if (next > span.last) return true;
  }
  return next > span.last;
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Parses one IP address literal. Alternative IPv4 encodings (127.1, 2130706433, 0x7f000001, octal) are
 * decoded as inet_aton would, so they can be checked, and flagged non-canonical so they are never sent on.
 */
function parseAddress(
  text: string,
  unwrapMapped = true,
): { addr: ipaddr.IPv4 | ipaddr.IPv6; nonCanonical?: string } | null {
  let body = text;
  let nonCanonical: string | undefined;
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  const zone = body.indexOf('%');
  if (zone >= 0) {
    body = body.slice(0, zone);
    nonCanonical = 'IPv6 zone ids are not accepted';
  }
  if (body.includes(':')) {
    if (!ipaddr.IPv6.isValid(body)) return null;
    const v6 = ipaddr.IPv6.parse(body);
    const dotted = body.slice(body.lastIndexOf(':') + 1);
    if (dotted.includes('.') && !IPV4_CANONICAL.test(dotted)) {
      nonCanonical ??= `the embedded IPv4 part must be dotted decimal without leading zeros`;
    }
    if (unwrapMapped && v6.isIPv4MappedAddress()) return { addr: v6.toIPv4Address(), nonCanonical };
    return { addr: v6, nonCanonical };
  }
  if (zone >= 0 || !ipaddr.IPv4.isValid(body)) return null;
  const v4 = ipaddr.IPv4.parse(body);
  if (!IPV4_CANONICAL.test(body)) {
    nonCanonical = `alternative IPv4 notation; write it as ${v4.toString()}`;
  }
  return { addr: v4, nonCanonical };
}

function singleSpan(addr: ipaddr.IPv4 | ipaddr.IPv6): Span {
  const n = toBig(addr);
  return { family: addr.kind(), first: n, last: n };
}

function fullLength(family: Family): number {
  return family === 'ipv4' ? 32 : 128;
}

/** Parses an address, CIDR or range; null when the text is none of those (it may be a host name). */
function parseLiteral(text: string): ParsedLiteral | null {
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const parsed = parseAddress(text.slice(0, slash), false);
    const prefixText = text.slice(slash + 1);
    if (!parsed || !/^(?:0|[1-9]\d{0,2})$/.test(prefixText)) throw invalid(text, 'not a valid CIDR');
    let prefix = Number(prefixText);
    if (parsed.addr.kind() === 'ipv6' && prefix >= 96 && (parsed.addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      // ::ffff:a.b.c.d/120 is the IPv4 network a.b.c.d/24
      parsed.addr = (parsed.addr as ipaddr.IPv6).toIPv4Address();
      prefix -= 96;
    }
    const max = fullLength(parsed.addr.kind());
    if (prefix > max) throw invalid(text, `prefix length must be at most ${max}`);
    const span = cidrSpan(parsed.addr, prefix);
    const network = fromBig(span.family, span.first).toString();
    return {
      kind: 'literal',
      span,
      normalised: prefix === max ? network : `${network}/${prefix}`,
      nonCanonical: parsed.nonCanonical,
    };
  }
  const dash = text.indexOf('-');
  if (dash > 0 && dash === text.lastIndexOf('-')) {
    const startText = text.slice(0, dash);
    const endText = text.slice(dash + 1);
    const start = parseAddress(startText);
    if (start && start.addr.kind() === 'ipv4' && /^\d{1,3}$/.test(endText)) {
      // Short form a.b.c.d-e: the end shares the first three octets
      const octets = (start.addr as ipaddr.IPv4).octets.slice(0, 3).join('.');
      return rangeOf(text, start, parseAddress(`${octets}.${endText}`));
    }
    const end = parseAddress(endText);
    if (start && end) return rangeOf(text, start, end);
  }
  const parsed = parseAddress(text);
  if (!parsed) return null;
  return {
    kind: 'literal',
    span: singleSpan(parsed.addr),
    normalised: parsed.addr.toString(),
    nonCanonical: parsed.nonCanonical,
  };
}

function rangeOf(
  text: string,
  start: NonNullable<ReturnType<typeof parseAddress>>,
  end: ReturnType<typeof parseAddress>,
): ParsedLiteral {
  if (!end) throw invalid(text, 'not a valid range a.b.c.d-e.f.g.h');
  if (start.addr.kind() !== 'ipv4' || end.addr.kind() !== 'ipv4') {
    throw invalid(text, 'ranges must be IPv4 (a.b.c.d-e.f.g.h); use a CIDR for IPv6');
  }
  const first = toBig(start.addr);
  const last = toBig(end.addr);
  if (first > last) throw invalid(text, 'the range ends before it starts');
  const span: Span = { family: 'ipv4', first, last };
  return {
    kind: 'literal',
    span,
    normalised: show(span),
    nonCanonical: start.nonCanonical ?? end.nonCanonical,
  };
}

function parseHostname(text: string): ParsedHost | null {
  const name = text.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || name.length > 253) return null;
  const labels = name.split('.');
  if (!labels.every((l) => HOST_LABEL.test(l))) return null;
  // A name whose last label is a number is an IPv4 literal to URL parsers and resolvers (WHATWG "ends in a number")
  const last = labels[labels.length - 1];
  if (/^\d+$/.test(last) || /^0x[0-9a-f]*$/.test(last)) return null;
  return { kind: 'host', hostname: name };
}

function invalid(target: string, why: string): ValidationError {
  return new ValidationError(`target ${JSON.stringify(clip(target))}: ${why}`, {
    targets: `${clip(target)}: ${why}`,
  });
}

function parseTarget(text: string): ParsedTarget {
  const literal = parseLiteral(text);
  if (literal) return literal;
  if (/[^\x21-\x7e]/.test(text)) {
    throw invalid(text, 'host names must be ASCII (use the xn-- form for international names)');
  }
  const host = parseHostname(text);
  if (!host) throw invalid(text, 'not a valid IP address, CIDR, range or host name');
  return host;
}

function parseRuleList(name: string, entries: string[]): { spans: Span[]; problems: string[] } {
  const spans: Span[] = [];
  const problems: string[] = [];
  for (const entry of splitTargets(entries)) {
    let parsed: ParsedLiteral | null = null;
    try {
      parsed = parseLiteral(entry);
    } catch {
      parsed = null;
    }
    if (!parsed || parsed.nonCanonical) {
      problems.push(
        `${name}: ${JSON.stringify(entry)} is not an IP address, CIDR or range in canonical form`,
      );
    } else {
      spans.push(parsed.span);
    }
  }
  return { spans, problems };
}

/** Problems with a TARGET_ALLOW / TARGET_DENY style list (for start-up validation); empty when valid. */
export function policyListProblems(name: string, entries: string[]): string[] {
  return parseRuleList(name, entries).problems;
}

const defaultResolver: Resolver = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((r) => r.address);

const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

/**
 * The scan-target policy of SPEC §8: parses every target form, denies loopback, link-local/metadata,
 * multicast, unspecified, broadcast and reserved space (also when embedded in IPv6), applies
 * TARGET_DENY and TARGET_ALLOW by containment, caps sizes, and pins host names to their checked addresses.
 */
export class TargetPolicy {
  private readonly denyRules: Rule[];
  /** Each allow set (TARGET_ALLOW, then a pool's own list) must contain every target on its own. */
  private readonly allowSets: { name: string; spans: Span[] }[] = [];
  private readonly embedding: { span: Span; via: string; shift: bigint }[];
  private readonly maxItems: number;
  private readonly maxTargetLength: number;
  private readonly resolveTimeoutMs: number;

  /** Throws when an allow or deny entry is not a canonical address, CIDR or range. */
  constructor(
    private readonly opts: TargetPolicyOptions,
    private readonly resolver: Resolver = defaultResolver,
  ) {
    const allow = parseRuleList('TARGET_ALLOW', opts.allow);
    const deny = parseRuleList('TARGET_DENY', opts.deny);
    const problems = [...allow.problems, ...deny.problems];
    if (problems.length > 0) throw new Error(`Invalid target policy: ${problems.join('; ')}`);
    if (allow.spans.length > 0) this.allowSets.push({ name: 'TARGET_ALLOW', spans: allow.spans });
    this.denyRules = [
      ...DEFAULT_DENY.map(([cidr, label]) => ({ span: ruleSpan(cidr), label: `${label} ${cidr}` })),
      ...deny.spans.map((span) => ({ span, label: `TARGET_DENY ${showRule(span)}` })),
    ];
    this.embedding = IPV4_EMBEDDING.map((e) => ({
      span: ruleSpan(e.cidr),
      via: `${e.via} ${e.cidr}`,
      shift: e.shift,
    }));
    this.maxItems = opts.maxItems ?? 256;
    this.maxTargetLength = opts.maxTargetLength ?? 255;
    this.resolveTimeoutMs = opts.resolveTimeoutMs ?? 5000;
  }

  /**
   * A policy for one scanner pool (scanners.yaml): the pool's deny entries are added, and when the pool
   * has an allow list a target must lie inside it as well as inside TARGET_ALLOW.
   */
  withPool(pool: { name: string; allow?: string[]; deny?: string[] }): TargetPolicy {
    const allow = parseRuleList(`pool ${pool.name} allow`, pool.allow ?? []);
    const deny = parseRuleList(`pool ${pool.name} deny`, pool.deny ?? []);
    const problems = [...allow.problems, ...deny.problems];
    if (problems.length > 0) throw new Error(`Invalid target policy: ${problems.join('; ')}`);
    const child = new TargetPolicy(this.opts, this.resolver);
    child.allowSets.splice(0, child.allowSets.length, ...this.allowSets);
    if (allow.spans.length > 0)
      child.allowSets.push({ name: `the allow list of pool ${pool.name}`, spans: allow.spans });
    child.denyRules.splice(0, child.denyRules.length, ...this.denyRules);
    child.denyRules.push(
      ...deny.spans.map((span) => ({ span, label: `deny list of pool ${pool.name}: ${showRule(span)}` })),
    );
    return child;
  }

  /**
   * Checks a request's targets. Throws ForbiddenTargetError (target and rule) for refused space,
   * ValidationError for unparseable or oversized input, UnavailableError when DNS fails transiently.
   */
  async check(input: string[]): Promise<CheckedTargets> {
    const items = splitTargets(input);
    if (items.length === 0)
      throw new ValidationError('targets: at least one target is required', { targets: 'required' });
    if (items.length > this.maxItems) {
      throw new ValidationError(`targets: ${items.length} targets, more than the limit of ${this.maxItems}`, {
        targets: `more than ${this.maxItems} items`,
      });
    }
    const parsed = items.map((item) => {
      if (item.length > this.maxTargetLength) {
        throw invalid(item, `longer than ${this.maxTargetLength} characters`);
      }
      return { given: item, target: parseTarget(item) };
    });

    let count = 0n;
    const targets: string[] = [];
    const nessusTargets: string[] = [];
    const hosts: { given: string; hostname: string; index: number }[] = [];
    const addTarget = (list: string[], value: string) => {
      if (!list.includes(value)) list.push(value);
    };
    for (const { given, target } of parsed) {
      if (target.kind === 'host') {
        if (target.hostname === 'localhost' || target.hostname.endsWith('.localhost')) {
          throw new ForbiddenTargetError(given, 'loopback name (RFC 6761 localhost)');
        }
        if (!targets.includes(target.hostname)) {
          hosts.push({ given, hostname: target.hostname, index: targets.length });
          targets.push(target.hostname);
        }
        continue;
      }
      this.checkSpan(given, target.span, target.span.first !== target.span.last);
      if (target.nonCanonical) throw invalid(given, target.nonCanonical);
      if (targets.includes(target.normalised)) continue;
      targets.push(target.normalised);
      addTarget(nessusTargets, target.normalised);
      count += target.span.last - target.span.first + 1n;
      this.checkCount(given, count);
    }

    const resolved = await Promise.all(hosts.map((h) => this.resolve(h.given, h.hostname)));
    for (const [i, host] of hosts.entries()) {
      for (const address of resolved[i]) {
        this.checkSpan(host.given, address.span, false, address.text);
        if (!nessusTargets.includes(address.text)) {
          nessusTargets.push(address.text);
          count += 1n;
        }
      }
      this.checkCount(host.given, count);
    }
    return { targets, nessusTargets, addressCount: Number(count) };
  }

  private checkCount(given: string, count: bigint): void {
    if (count > BigInt(this.opts.maxAddresses)) {
      const n = count > 10n ** 12n ? 'more than 10^12' : count.toString();
      throw invalid(
        given,
        `the targets expand to ${n} addresses, more than MAX_TARGET_ADDRESSES (${this.opts.maxAddresses})`,
      );
    }
  }

  /** Throws ForbiddenTargetError when `span` touches denied space or leaves an allow set. */
  private checkSpan(given: string, span: Span, isRange: boolean, resolvedTo?: string): void {
    const hit = this.denyHit(span);
    const prefix = resolvedTo ? `resolves to ${resolvedTo}, ` : isRange ? 'overlaps ' : '';
    if (hit) throw new ForbiddenTargetError(given, `${prefix}${hit}`);
    for (const set of this.allowSets) {
      if (!covered(span, set.spans)) {
        const where = set.name === 'TARGET_ALLOW' ? 'outside TARGET_ALLOW' : `outside ${set.name}`;
        throw new ForbiddenTargetError(given, resolvedTo ? `resolves to ${resolvedTo}, ${where}` : where);
      }
    }
  }

  private denyHit(span: Span): string | null {
    const direct = this.denyRules.find((r) => overlaps(span, r.span));
    if (direct) return direct.label;
    if (span.family !== 'ipv6') return null;
    for (const e of this.embedding) {
      if (!overlaps(span, e.span)) continue;
      // The embedded IPv4 addresses of the part of `span` inside this prefix form one interval
      const from = (span.first > e.span.first ? span.first : e.span.first) - e.span.first;
      const to = (span.last < e.span.last ? span.last : e.span.last) - e.span.first;
      const scale = 2n ** e.shift;
      const v4: Span = { family: 'ipv4', first: from / scale, last: to / scale };
      const inner = this.denyRules.find((r) => overlaps(v4, r.span));
      if (inner) return `${inner.label} via ${e.via}`;
    }
    return null;
  }

  private async resolve(given: string, hostname: string): Promise<{ text: string; span: Span }[]> {
    let addresses: string[];
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })),
          this.resolveTimeoutMs,
        );
      });
      addresses = await Promise.race([this.resolver(hostname), timeout]);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (NOT_FOUND_CODES.has(code)) throw invalid(given, 'the host name does not resolve');
      throw new UnavailableError(
        `target ${JSON.stringify(clip(given))}: could not resolve the host name (${code || 'error'})`,
      );
    } finally {
      clearTimeout(timer);
    }
    if (addresses.length === 0) throw invalid(given, 'the host name does not resolve');
    return addresses.map((a) => {
      const parsed = parseAddress(String(a));
      if (!parsed)
        throw new ForbiddenTargetError(
          given,
          `resolves to ${JSON.stringify(clip(String(a)))}, not an IP address`,
        );
      // Decoded value only: what is checked is what Nessus is sent
      return { text: parsed.addr.toString(), span: singleSpan(parsed.addr) };
    });
  }
}

function ruleSpan(cidr: string): Span {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  return cidrSpan(addr, prefix);
}

function showRule(span: Span): string {
  for (let prefix = 0; prefix <= fullLength(span.family); prefix++) {
    const c = cidrSpan(fromBig(span.family, span.first), prefix);
    if (c.first === span.first && c.last === span.last) {
      return prefix === fullLength(span.family)
        ? show(span)
        : `${fromBig(span.family, span.first).toString()}/${prefix}`;
    }
  }
  return show(span);
}
