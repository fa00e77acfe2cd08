import { createHash } from 'node:crypto';
import * as ipaddr from 'ipaddr.js';

/** The submission fields that decide whether two requests are "the same request" (SPEC §7). */
export interface SubmissionFingerprintInput {
  kind: 'untrusted' | 'authenticated';
  targets: string | string[];
  name: string;
  description?: string | null;
  schema_profile?: string;
  scanner_pool?: string | null;
  scanner_instance?: string | null;
  scan_type?: string;
  ssh_username?: string;
  ssh_password?: string;
  ssh_private_key?: string;
  elevate_privileges_with?: string;
  escalation_account?: string;
  escalation_password?: string;
}

/** Values the caller fills in for omitted fields, so explicit defaults and omissions hash alike. */
export interface FingerprintDefaults {
  scanner_pool: string;
}

// Bumped if the canonical form ever changes, so old and new fingerprints never compare equal by accident.
const FINGERPRINT_VERSION = 1;

/**
 * Canonical target list: split on commas and white space, trimmed, lower-cased, IP literals in one
 * spelling (host-length prefixes /32 and /128 dropped, IPv6 compressed), de-duplicated, sorted.
 */
export function normalizeTargets(targets: string | string[]): string[] {
  const parts = (Array.isArray(targets) ? targets : [targets])
    .flatMap((t) => t.split(/[\s,]+/))
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0)
    .map(canonicalTarget);
  return [...new Set(parts)].sort();
}

/** Hex SHA-256 of the normalised submission; credentials enter only as their own SHA-256. */
export function fingerprintSubmission(
  req: SubmissionFingerprintInput,
  defaults: FingerprintDefaults,
): string {
  const canonical = {
    v: FINGERPRINT_VERSION,
    kind: req.kind,
    targets: normalizeTargets(req.targets),
    name: req.name,
    description: req.description ?? '',
    schema_profile: req.schema_profile ?? 'brief',
    scanner_pool: req.scanner_pool ?? defaults.scanner_pool,
    scanner_instance: req.scanner_instance ?? null,
    scan_type: req.scan_type ?? (req.kind === 'untrusted' ? 'untrusted' : null),
    ssh_username: req.ssh_username ?? null,
    ssh_password: secretHash(req.ssh_password),
    ssh_private_key: secretHash(req.ssh_private_key),
    elevate_privileges_with: req.elevate_privileges_with ?? 'Nothing',
    escalation_account: req.escalation_account ?? null,
    escalation_password: secretHash(req.escalation_password),
  };
  return sha256(canonicalJson(canonical));
}

function canonicalTarget(target: string): string {
  const slash = target.indexOf('/');
  const address = slash === -1 ? target : target.slice(0, slash);
  const prefix = slash === -1 ? null : target.slice(slash + 1);
  // Only strict dotted-quad IPv4 is rewritten: 010.0.0.1 or 10.1 stay as written rather than guessed at.
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) {
    return withPrefix(ipaddr.IPv4.parse(address).toString(), prefix, 32);
  }
  if (ipaddr.IPv6.isValid(address)) {
    return withPrefix(ipaddr.IPv6.parse(address).toRFC5952String(), prefix, 128);
  }
  return target;
}

function withPrefix(address: string, prefix: string | null, hostBits: number): string {
  if (prefix === null) return address;
  if (!/^\d{1,3}$/.test(prefix)) return `${address}/${prefix}`;
  const bits = Number(prefix);
  return bits === hostBits ? address : `${address}/${bits}`;
}

function secretHash(secret: string | undefined): string | null {
  return secret === undefined || secret === null ? null : sha256(secret);
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with object keys sorted at every level, so field order never changes the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
