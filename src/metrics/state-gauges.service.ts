import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DeadLetterStore } from '../queue/dead-letter.store';
import { ScanQueue } from '../queue/scan-queue';
import { WaitingLine } from '../queue/waiting-line';
import { CapacityLeases } from '../scanners/capacity-leases.store';
import { BreakerState, CircuitBreakers } from '../scanners/circuit-breakers';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { MetricsService } from './metrics.service';

/** How long one source (queue, dead letters, waiting lines, scanners) may take during a scrape. */
export const SOURCE_TIMEOUT_MS = 2000;

const CIRCUIT_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type Source = 'queue' | 'dead_letters' | 'waiting_lines' | 'scanners';

/**
 * Gauges of shared state (queue, waiting lines, capacity leases, circuits, dead letters), read at scrape
 * time. Each source is read in parallel under SOURCE_TIMEOUT_MS: with Redis down a scrape still answers
 * at once, with that source's series left out and `nmg_metrics_source_up{source}` at 0.
 */
@Injectable()
export class StateGauges {
  private readonly log = new Logger(StateGauges.name);
  private inFlight: Promise<void> | null = null;

  private readonly sourceUp: Gauge<'source'>;
  private readonly queueJobs: Gauge<'state'>;
  private readonly watchedScans: Gauge;
  private readonly deadLetters: Gauge;
  private readonly poolWaiting: Gauge<'pool'>;
  private readonly poolRunning: Gauge<'pool'>;
  private readonly poolCapacity: Gauge<'pool'>;
  private readonly poolAvailable: Gauge<'pool'>;
  private readonly scannerActive: Gauge<'pool' | 'scanner'>;
  private readonly scannerMax: Gauge<'pool' | 'scanner'>;
  private readonly scannerEnabled: Gauge<'pool' | 'scanner'>;
  private readonly scannerCircuit: Gauge<'pool' | 'scanner'>;

  constructor(
    metrics: MetricsService,
    private readonly queue: ScanQueue,
    private readonly deadLetterStore: DeadLetterStore,
    private readonly waiting: WaitingLine,
    private readonly registry: ScannerRegistry,
    private readonly leases: CapacityLeases,
    private readonly breakers: CircuitBreakers,
  ) {
    const registers = [metrics.registry];
    this.sourceUp = new Gauge({
      name: 'nmg_metrics_source_up',
      help: 'Whether a source answered during the last scrape (1) or timed out or failed (0).',
      labelNames: ['source'],
      registers,
    });
    this.queueJobs = new Gauge({
      name: 'nmg_queue_jobs',
      help: 'Jobs on the scan-steps queue by state (all workers).',
      labelNames: ['state'],
      registers,
    });
    this.watchedScans = new Gauge({
      name: 'nmg_watched_scans',
      help: 'Running scans the workers poll without a queued job until something changes (all workers).',
      registers,
    });
    this.deadLetters = new Gauge({
      name: 'nmg_dead_letter_tasks',
      help: 'Tasks on the dead-letter list, waiting for an operator.',
      registers,
    });
    this.poolWaiting = new Gauge({
      name: 'nmg_pool_waiting_tasks',
      help: 'Queued tasks waiting for scanner capacity, per pool.',
      labelNames: ['pool'],
      registers,
    });
    this.poolRunning = new Gauge({
      name: 'nmg_pool_running_scans',
      help: 'Scans holding a capacity lease, per pool (all workers).',
      labelNames: ['pool'],
      registers,
    });
    this.poolCapacity = new Gauge({
      name: 'nmg_pool_capacity',
      help: 'Sum of max_concurrent_scans of the enabled scanners of a pool.',
      labelNames: ['pool'],
      registers,
    });
    this.poolAvailable = new Gauge({
      name: 'nmg_pool_available_capacity',
      help: 'Free slots on the enabled scanners of a pool whose circuit lets them take work.',
      labelNames: ['pool'],
      registers,
    });
    this.scannerActive = new Gauge({
      name: 'nmg_scanner_active_scans',
      help: 'Unexpired capacity leases of a scanner (all workers).',
      labelNames: ['pool', 'scanner'],
      registers,
    });
    this.scannerMax = new Gauge({
      name: 'nmg_scanner_max_concurrent_scans',
      help: 'max_concurrent_scans of a scanner.',
      labelNames: ['pool', 'scanner'],
      registers,
    });
    this.scannerEnabled = new Gauge({
      name: 'nmg_scanner_enabled',
      help: 'Whether a scanner is enabled in scanners.yaml.',
      labelNames: ['pool', 'scanner'],
      registers,
    });
    this.scannerCircuit = new Gauge({
      name: 'nmg_scanner_circuit_state',
      help: "This process's circuit breaker for a scanner: 0 closed, 1 half-open, 2 open.",
      labelNames: ['pool', 'scanner'],
      registers,
    });
  }

  /** Reads every source once; concurrent scrapes share one read. Never rejects. */
  refresh(): Promise<void> {
    this.inFlight ??= this.readAll().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async readAll(): Promise<void> {
    await Promise.all([
      this.read(
        'queue',
        [this.queueJobs, this.watchedScans],
        () => this.queue.counts(),
        (c) => {
          for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) {
            this.queueJobs.set({ state }, c[state]);
          }
          this.watchedScans.set(c.watched);
        },
      ),
      this.read(
        'dead_letters',
        [this.deadLetters],
        () => this.deadLetterStore.size(),
        (n) => this.deadLetters.set(n),
      ),
      this.read(
        'waiting_lines',
        [this.poolWaiting],
        () => this.readWaiting(),
        (sizes) => {
          for (const [pool, n] of sizes) this.poolWaiting.set({ pool }, n);
        },
      ),
      this.read(
        'scanners',
        this.scannerGauges,
        () => this.readScanners(),
        (apply) => apply(),
      ),
    ]);
  }

  private get scannerGauges(): Gauge<string>[] {
    return [
      this.scannerActive,
      this.scannerMax,
      this.scannerEnabled,
      this.scannerCircuit,
      this.poolRunning,
      this.poolCapacity,
      this.poolAvailable,
    ];
  }

  /**
   * Fetches one source, then replaces its series in one synchronous step (so label sets that vanished,
   * e.g. a scanner removed by a reload, go too). A failed source shows no series rather than stale ones.
   */
  private async read<T>(
    source: Source,
    gauges: Gauge<string>[],
    fetch: () => Promise<T>,
    apply: (value: T) => void,
  ): Promise<void> {
    try {
      const value = await within(fetch(), SOURCE_TIMEOUT_MS, source);
      for (const g of gauges) g.reset();
      apply(value);
      this.sourceUp.set({ source }, 1);
    } catch (err) {
      for (const g of gauges) g.reset();
      this.sourceUp.set({ source }, 0);
      this.log.debug(`metrics source ${source} unavailable: ${(err as Error).message}`);
    }
  }

  private async readWaiting(): Promise<[string, number][]> {
    const pools = this.registry.snapshot().pools;
    return Promise.all(pools.map(async (pool) => [pool, await this.waiting.size(pool)] as [string, number]));
  }

  /** Reads leases and capacity, then returns a synchronous update so the gauges never show half a read. */
  private async readScanners(): Promise<() => void> {
    const snap = this.registry.snapshot();
    const active = await this.leases.activeByInstance(snap.scanners.map((s) => s.instanceId));
    const capacities = await Promise.all(snap.pools.map((pool) => this.registry.capacity(pool)));
    return () => {
      for (const s of snap.scanners) {
        const labels = { pool: s.pool, scanner: s.instanceId };
        this.scannerActive.set(labels, active[s.instanceId] ?? 0);
        this.scannerMax.set(labels, s.maxConcurrentScans);
        this.scannerEnabled.set(labels, s.enabled ? 1 : 0);
        this.scannerCircuit.set(labels, CIRCUIT_VALUE[this.breakers.state(s.instanceId)]);
      }
      for (const cap of capacities) {
        const inPool = snap.inPool(cap.pool);
        const running = inPool.reduce((sum, s) => sum + (active[s.instanceId] ?? 0), 0);
        const capacity = inPool.filter((s) => s.enabled).reduce((sum, s) => sum + s.maxConcurrentScans, 0);
        this.poolRunning.set({ pool: cap.pool }, running);
        this.poolCapacity.set({ pool: cap.pool }, capacity);
        this.poolAvailable.set({ pool: cap.pool }, cap.available);
      }
    };
  }
}
