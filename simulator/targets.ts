import { isIPv4 } from 'node:net';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Expands Nessus `text_targets` (comma, space or newline separated IPs, IPv4 CIDRs, ranges a-b and
 * host names) into host names as a scan would report them, stopping at `limit`.
 */
export function expandTargets(text: string, limit: number): string[] {
  const out: string[] = [];
  const push = (h: string) => {
    if (out.length < limit) out.push(h);
  };
  for (const raw of text.split(/[\s,]+/)) {
    const t = raw.trim();
    if (!t || out.length >= limit) continue;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(t);
    const range = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$/.exec(t);
    if (cidr && isIPv4(cidr[1]) && Number(cidr[2]) <= 32) {
      const bits = Number(cidr[2]);
      const size = 2 ** (32 - bits);
      const base = Math.floor(ipToInt(cidr[1]) / size) * size;
      // network and broadcast addresses are not hosts, except in /31 and /32
      const first = size > 2 ? base + 1 : base;
      const last = size > 2 ? base + size - 2 : base + size - 1;
      for (let n = first; n <= last && out.length < limit; n++) push(intToIp(n));
    } else if (range && isIPv4(range[1]) && isIPv4(range[2])) {
      for (let n = ipToInt(range[1]); n <= ipToInt(range[2]) && out.length < limit; n++) push(intToIp(n));
    } else {
      push(t);
    }
  }
  return out;
}
