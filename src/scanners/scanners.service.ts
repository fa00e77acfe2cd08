import { Injectable } from '@nestjs/common';
import { CapacityLeases } from './capacity-leases.store';
import { displayUrl, RegistrySnapshot, ScannerEntry } from './registry-snapshot';
import { ScannerHealth } from './scanner-health';
import { ScannerRegistry } from './scanner-registry.service';

/** One scanner as list_scanners shows it (SPEC §5). Never holds credentials. */
export interface ScannerView {
  scanner_type: 'nessus';
  pool: string;
  instance_id: string;
  name: string;
  /** Without userinfo, query or fragment. */
  url: string;
  enabled: boolean;
  max_concurrent_scans: number;
  /** Unexpired capacity leases, across all processes. */
  active_scans: number;
  /** Free slots; 0 for a disabled scanner. */
  available_capacity: number;
  /** active_scans / max_concurrent_scans in percent, one decimal. */
  utilization_pct: number;
  /** False while the scanner's circuit breaker is open in this or any other process. */
  healthy: boolean;
}

export interface ScannerList {
  scanners: ScannerView[];
  total: number;
  pools: string[];
}

/**
 * Capacity figures of a pool: total_capacity counts enabled scanners, available_capacity the free
 * slots of enabled scanners whose circuit is not open.
 */
export interface PoolSummary {
  name: string;
  is_default: boolean;
  total_scanners: number;
  enabled_scanners: number;
  healthy_scanners: number;
  total_capacity: number;
  total_active: number;
  available_capacity: number;
  utilization_pct: number;
}

export interface PoolList {
  pools: PoolSummary[];
  default_pool: string;
}

/** get_pool_status (SPEC §5). */
export interface PoolStatus {
  pool: string;
  total_scanners: number;
  total_capacity: number;
  total_active: number;
  available_capacity: number;
  utilization_pct: number;
  scanners: ScannerView[];
}

const pct = (active: number, capacity: number) =>
  capacity > 0 ? Math.round((active / capacity) * 1000) / 10 : 0;

/** The data behind list_scanners, list_pools and get_pool_status (and their REST twins). */
@Injectable()
export class ScannersService {
  constructor(
    private readonly registry: ScannerRegistry,
    private readonly leases: CapacityLeases,
    private readonly health: ScannerHealth,
  ) {}

  /** Every scanner, or those of one pool (unknown pool: NotFoundError listing the pools). */
  async listScanners(pool?: string): Promise<ScannerList> {
    const snap = this.registry.snapshot();
    const entries = pool === undefined ? snap.scanners : this.poolEntries(snap, pool);
    const scanners = await this.views(entries);
    return { scanners, total: scanners.length, pools: [...snap.pools] };
  }

  async listPools(): Promise<PoolList> {
    const snap = this.registry.snapshot();
    const views = await this.views(snap.scanners);
    const pools = snap.pools.map((name) => {
      const inPool = views.filter((v) => v.pool === name);
      const totals = summarise(inPool);
      return {
        name,
        is_default: name === snap.defaultPool,
        total_scanners: inPool.length,
        enabled_scanners: inPool.filter((v) => v.enabled).length,
        healthy_scanners: inPool.filter((v) => v.enabled && v.healthy).length,
        ...totals,
      };
    });
    return { pools, default_pool: snap.defaultPool };
  }

  /** Status of one pool (default: the default pool; unknown pool: NotFoundError listing the pools). */
  async poolStatus(pool?: string): Promise<PoolStatus> {
    const snap = this.registry.snapshot();
    const name = pool ?? snap.defaultPool;
    const scanners = await this.views(this.poolEntries(snap, name));
    return { pool: name, total_scanners: scanners.length, ...summarise(scanners), scanners };
  }

  private poolEntries(snap: RegistrySnapshot, pool: string): readonly ScannerEntry[] {
    if (!snap.hasPool(pool)) throw this.registry.unknownPool(pool);
    return snap.inPool(pool);
  }

  private async views(entries: readonly ScannerEntry[]): Promise<ScannerView[]> {
    const ids = entries.map((e) => e.instanceId);
    const [active, open] = await Promise.all([this.leases.activeByInstance(ids), this.health.openAmong(ids)]);
    return entries.map((e) => {
      const n = active[e.instanceId] ?? 0;
      return {
        scanner_type: 'nessus',
        pool: e.pool,
        instance_id: e.instanceId,
        name: e.name,
        url: displayUrl(e.url),
        enabled: e.enabled,
        max_concurrent_scans: e.maxConcurrentScans,
        active_scans: n,
        available_capacity: e.enabled ? Math.max(0, e.maxConcurrentScans - n) : 0,
        utilization_pct: pct(n, e.maxConcurrentScans),
        healthy: !open.has(e.instanceId),
      };
    });
  }
}

function summarise(views: ScannerView[]) {
  const enabled = views.filter((v) => v.enabled);
  const total_capacity = enabled.reduce((a, v) => a + v.max_concurrent_scans, 0);
  const total_active = views.reduce((a, v) => a + v.active_scans, 0);
  // Free slots that can take a scan now: an open circuit's slots are not offered to new tasks.
  const available_capacity = enabled.filter((v) => v.healthy).reduce((a, v) => a + v.available_capacity, 0);
  return {
    total_capacity,
    total_active,
    available_capacity,
    utilization_pct: pct(total_active, total_capacity),
  };
}
