import type { ScannerEntry, ScannersConfig } from '../config/scanners-file';

export type { ScannerEntry } from '../config/scanners-file';

/**
 * One immutable view of scanners.yaml. A reload builds a new snapshot and swaps the reference, so a
 * caller holding a snapshot never sees a half-applied file.
 */
export interface RegistrySnapshot {
  /** Pool names in file order. */
  readonly pools: readonly string[];
  /** The first pool of the file. */
  readonly defaultPool: string;
  /** Every entry of every pool, enabled or not, in file order. */
  readonly scanners: readonly ScannerEntry[];
  /** Increases with every successful load in this process. */
  readonly version: number;
  readonly loadedAt: Date;
  byId(instanceId: string): ScannerEntry | undefined;
  /** Entries of a pool in file order; empty for an unknown pool. */
  inPool(pool: string): readonly ScannerEntry[];
  hasPool(pool: string): boolean;
}

/** Builds a frozen snapshot from a parsed scanners file (which guarantees ≥ 1 pool and unique ids). */
export function buildSnapshot(config: ScannersConfig, version = 1, loadedAt = new Date()): RegistrySnapshot {
  if (config.pools.length === 0) throw new Error('a registry snapshot needs at least one pool');
  const scanners = Object.freeze(config.pools.flatMap((p) => p.scanners.map((s) => Object.freeze({ ...s }))));
  const byId = new Map(scanners.map((s) => [s.instanceId, s]));
  const byPool = new Map(
    config.pools.map((p) => [p.name, Object.freeze(scanners.filter((s) => s.pool === p.name))] as const),
  );
  const pools = Object.freeze(config.pools.map((p) => p.name));
  return Object.freeze({
    pools,
    defaultPool: pools[0],
    scanners,
    version,
    loadedAt,
    byId: (id: string) => byId.get(id),
    inPool: (pool: string) => byPool.get(pool) ?? [],
    hasPool: (pool: string) => byPool.has(pool),
  });
}

/** The URL without userinfo, query or fragment: what responses and logs may show. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid url)';
  }
}

/** True when two entries would build the same Nessus client (connection and credentials). */
export function sameConnection(a: ScannerEntry, b: ScannerEntry): boolean {
  return (
    a.url === b.url &&
    a.username === b.username &&
    a.password === b.password &&
    a.accessKey === b.accessKey &&
    a.secretKey === b.secretKey &&
    a.tlsVerify === b.tlsVerify &&
    a.caFile === b.caFile &&
    a.apiToken === b.apiToken
  );
}
