import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import {
  loadScannersFile,
  loadScannersFileSync,
  ParsedScannersFile,
  ScannerEntry,
} from '../config/scanners-file';
import { NotFoundError, ValidationError } from '../common/errors';
import { CapacityLeases } from './capacity-leases.store';
import { CircuitBreakers } from './circuit-breakers';
import { buildSnapshot, RegistrySnapshot, sameConnection } from './registry-snapshot';
import type { Candidate } from './round-robin';

export type ReloadResult = { ok: true; version: number } | { ok: false; error: string };

export interface PoolCapacity {
  pool: string;
  /** Sum of max_concurrent_scans of the pool's enabled scanners whose circuit lets them take work. */
  total: number;
  active: number;
  /** Slots free now on those scanners. */
  available: number;
}

/**
 * The scanner pools of SCANNER_CONFIG as an immutable snapshot, swapped whole on `kill -HUP` (or
 * reload()). Chooses a scanner for a task (round-robin, capacity leased in Redis across processes).
 * An invalid file at start stops start-up; an invalid file at reload is logged and the old snapshot stays.
 */
@Injectable()
export class ScannerRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(ScannerRegistry.name);
  private current: RegistrySnapshot;
  /** Every entry this process has loaded, so scans on a scanner removed by a reload can finish. */
  private readonly known = new Map<string, ScannerEntry>();
  private reloading: Promise<unknown> = Promise.resolve();
  private last: (ReloadResult & { at: Date }) | null = null;
  private readonly onSighup = () => {
    this.log.log(`SIGHUP: reloading ${this.config.scanners.configPath}`);
    void this.reload();
  };

  constructor(
    private readonly config: AppConfig,
    private readonly leases: CapacityLeases,
    private readonly breakers: CircuitBreakers,
  ) {
    const parsed = loadScannersFileSync(config.scanners.configPath, this.loadOptions());
    this.current = this.install(parsed, 1);
  }

  onModuleInit(): void {
    process.on('SIGHUP', this.onSighup);
  }

  onModuleDestroy(): void {
    process.off('SIGHUP', this.onSighup);
  }

  snapshot(): RegistrySnapshot {
    return this.current;
  }

  /**
   * Re-reads SCANNER_CONFIG. Reloads run one after another; a valid file replaces the snapshot at once,
   * an invalid one is logged with its error and changes nothing.
   */
  reload(): Promise<ReloadResult> {
    const run = this.reloading.then(async () => {
      const result = await this.reloadNow();
      this.last = { ...result, at: new Date() };
      return result;
    });
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const path = this.config.scanners.configPath;
    let parsed: ParsedScannersFile;
    try {
      parsed = await loadScannersFile(path, this.loadOptions());
    } catch (err) {
      const error = (err as Error).message;
      this.log.error(`scanner configuration not reloaded; keeping version ${this.current.version}. ${error}`);
      return { ok: false, error };
    }
    const before = this.current;
    this.current = this.install(parsed, before.version + 1);
    this.log.log(
      `scanner configuration reloaded (version ${this.current.version}): ${describeChanges(before, this.current)}`,
    );
    return { ok: true, version: this.current.version };
  }

  /** Outcome of the latest reload in this process (null before the first one). */
  lastReload(): (ReloadResult & { at: Date }) | null {
    return this.last;
  }

  /** An entry by id, also one removed by a reload since this process loaded it. */
  entry(instanceId: string): ScannerEntry | undefined {
    return this.current.byId(instanceId) ?? this.known.get(instanceId);
  }

  /**
   * Refuses, as the caller's mistake, an unknown pool (listing the pools) or a requested instance that
   * is unknown, disabled or in another pool. Used at submission and again when the task is admitted.
   */
  assertRoutable(pool: string, instanceId: string | undefined): void {
    const snap = this.current;
    if (!snap.hasPool(pool)) {
      throw ValidationError.forFields({
        scanner_pool: `unknown scanner pool "${pool}"; pools: ${snap.pools.join(', ')}`,
      });
    }
    if (instanceId === undefined) return;
    const entry = snap.byId(instanceId);
    const inPool = snap.inPool(pool).map((s) => s.instanceId);
    if (!entry) {
      throw ValidationError.forFields({
        scanner_instance: `unknown scanner instance "${instanceId}"; pool "${pool}" has: ${inPool.join(', ')}`,
      });
    }
    if (entry.pool !== pool) {
      throw ValidationError.forFields({
        scanner_instance: `scanner instance "${instanceId}" is in pool "${entry.pool}", not "${pool}"`,
      });
    }
    if (!entry.enabled) {
      throw ValidationError.forFields({ scanner_instance: `scanner instance "${instanceId}" is disabled` });
    }
  }

  /** The pool's scanners that may take a task now: enabled and circuit not open. */
  candidates(pool: string, instanceId?: string): Candidate[] {
    return this.current
      .inPool(pool)
      .filter((s) => s.enabled && (instanceId === undefined || s.instanceId === instanceId))
      .filter((s) => this.breakers.isSelectable(s.instanceId))
      .map((s) => ({ instanceId: s.instanceId, max: s.maxConcurrentScans }));
  }

  /**
   * Chooses a scanner for the task and leases one of its slots (idempotent for the same task id): the
   * requested instance, else round-robin over the pool's enabled, healthy scanners below capacity.
   * Returns null when none has room (the task waits). Throws ValidationError as assertRoutable does.
   */
  async select(
    pool: string | undefined,
    instanceId: string | undefined,
    taskId: string,
    ttlMs: number,
  ): Promise<{ pool: string; instanceId: string } | null> {
    const name = pool ?? this.current.defaultPool;
    this.assertRoutable(name, instanceId);
    const chosen = await this.leases.acquire(name, this.candidates(name, instanceId), taskId, ttlMs);
    return chosen === null ? null : { pool: name, instanceId: chosen };
  }

  /** Capacity of a pool over the scanners that can take work now (unknown pool: NotFoundError). */
  async capacity(pool: string): Promise<PoolCapacity> {
    if (!this.current.hasPool(pool)) throw this.unknownPool(pool);
    const usable = this.candidates(pool);
    const active = await this.leases.activeByInstance(usable.map((c) => c.instanceId));
    let total = 0;
    let used = 0;
    let available = 0;
    for (const c of usable) {
      total += c.max;
      used += active[c.instanceId];
      available += Math.max(0, c.max - active[c.instanceId]);
    }
    return { pool, total, active: used, available };
  }

  /** NotFoundError for a pool looked up by name (GET /pools/:pool), listing the pools. */
  unknownPool(pool: string): NotFoundError {
    return new NotFoundError(`unknown scanner pool "${pool}"; pools: ${this.current.pools.join(', ')}`);
  }

  private loadOptions() {
    return {
      env: this.config.substitutionEnv,
      defaultMaxConcurrentScans: this.config.scanners.defaultMaxConcurrentScans,
    };
  }

  private install(parsed: ParsedScannersFile, version: number): RegistrySnapshot {
    for (const w of parsed.warnings) this.log.warn(`scanners: ${w}`);
    const snap = buildSnapshot(parsed.config, version);
    for (const s of snap.scanners) this.known.set(s.instanceId, s);
    return snap;
  }
}

function describeChanges(before: RegistrySnapshot, after: RegistrySnapshot): string {
  const added = after.scanners.filter((s) => !before.byId(s.instanceId)).map((s) => s.instanceId);
  const removed = before.scanners.filter((s) => !after.byId(s.instanceId)).map((s) => s.instanceId);
  const changed = after.scanners
    .filter((s) => {
      const old = before.byId(s.instanceId);
      return (
        old !== undefined &&
        (!sameConnection(old, s) ||
          old.pool !== s.pool ||
          old.enabled !== s.enabled ||
          old.maxConcurrentScans !== s.maxConcurrentScans ||
          old.name !== s.name)
      );
    })
    .map((s) => s.instanceId);
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  return `pools ${after.pools.join(', ')}; added ${list(added)}; removed ${list(removed)}; changed ${list(changed)}`;
}
