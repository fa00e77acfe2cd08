import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { runWithTraceFields } from '../common/logging/trace-context';
import type { SeenScan } from '../queue/queue-names';
import { ScanQueue } from '../queue/scan-queue';
import { WatchedScan, WatchList } from '../queue/watch-list';
import { CircuitBreakers } from '../scanners/circuit-breakers';
import { NessusClients } from '../scanners/nessus-clients.service';
import { isTerminalState } from '../scanners/nessus/nessus-status';
import { isTransient, runningProgress, ScanPipeline } from './scan-pipeline.service';

/** Watched scans one claim takes at most; a worker with more due goes on at once. */
const BATCH = 500;

/**
 * Polls the running scans of the watch list: one Nessus call per scan and interval, and a poll step
 * (a job, the task file, a write) only when the scan finished, its progress moved, its time ran out or
 * the call failed for a reason the step must judge. A scan whose poll changes nothing stays watched,
 * and its lease and idempotency key are renewed as a poll step would: most polls of a long scan cost one
 * HTTP call and a few Redis commands. Every worker watches; a claim hands each due scan to one of them.
 */
@Injectable()
export class ScanWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ScanWatcher.name);
  private readonly stop = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly watchList: WatchList,
    private readonly queue: ScanQueue,
    private readonly clients: NessusClients,
    private readonly breakers: CircuitBreakers,
    private readonly pipeline: ScanPipeline,
  ) {}

  private get pollMs(): number {
    return this.config.pipeline.pollIntervalSeconds * 1000;
  }

  onApplicationBootstrap(): void {
    this.loop = this.watch();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  private async watch(): Promise<void> {
    // A scan is polled at most a tick after it is due.
    const tickMs = Math.min(1000, Math.max(100, this.pollMs / 4));
    while (!this.stop.signal.aborted) {
      let due = 0;
      try {
        due = await this.sweep();
      } catch (err) {
        this.log.warn(`watching running scans failed: ${(err as Error).message}; trying again`);
      }
      if (due < BATCH) await sleep(tickMs, undefined, { signal: this.stop.signal }).catch(() => undefined);
    }
  }

  /** Polls the scans that are due once each; returns how many were. */
  async sweep(): Promise<number> {
    // A worker that dies holding a claim delays those scans by the hold, never loses them.
    const due = await this.watchList.claimDue(BATCH, Math.max(60_000, 2 * this.pollMs));
    const unchanged: WatchedScan[] = [];
    // Transient failures per scanner: one warning per scanner and sweep, not one per scan.
    const failures = new Map<string, { count: number; message: string }>();
    let next = 0;
    const poller = async () => {
      while (next < due.length && !this.stop.signal.aborted) {
        const { taskId, scan } = due[next++];
        if (!scan) {
          await this.watchList.release(taskId);
          continue;
        }
        await runWithTraceFields({ task_id: taskId, trace_id: scan.traceId }, async () => {
          const poll = await this.poll(scan, failures);
          if (poll === 'unchanged') unchanged.push(scan);
          else await this.queue.unwatch(scan, poll.seen);
        });
      }
    };
    await Promise.all(Array.from({ length: this.config.pipeline.workerConcurrency }, poller));
    for (const [instanceId, { count, message }] of failures) {
      this.log.warn(
        `scanner ${instanceId}: ${count} poll(s) of running scans failed (${message}); will poll again`,
      );
    }
    // Shutting down: the scans not polled yet are due again at once, for the other workers.
    const notPolled = due.slice(next).map((d) => d.taskId);
    await this.watchList.reschedule(notPolled, 0);
    // Only scans still watched (a cancel may have ended one meanwhile) renew what a poll step renews.
    const kept = new Set(
      await this.watchList.reschedule(
        unchanged.map((s) => s.taskId),
        this.pollMs,
      ),
    );
    await Promise.all(
      unchanged
        .filter((s) => kept.has(s.taskId))
        .map((s) => this.pipeline.keepHeld(s.taskId, s.idempotencyKeyHash, s.instanceId)),
    );
    return due.length;
  }

  /**
   * 'unchanged' when Nessus shows the scan running with the progress the task already has, or could not
   * be asked for a passing reason (counted in `failures`); otherwise what the poll step gets to judge,
   * with what Nessus answered if it did.
   */
  private async poll(
    scan: WatchedScan,
    failures: Map<string, { count: number; message: string }>,
  ): Promise<'unchanged' | { seen?: SeenScan }> {
    if (Date.now() > scan.deadlineMs) return {};
    try {
      const client = this.clients.client(scan.instanceId);
      const info = await this.breakers.execute(scan.instanceId, () =>
        client.getScan(scan.scanId, scan.hosts),
      );
      if (!isTerminalState(info.state) && runningProgress(info) === scan.progress) return 'unchanged';
      const { state, nessusStatus, progress } = info;
      return { seen: { state, nessusStatus, progress, atMs: Date.now() } };
    } catch (err) {
      // As in a poll step, a running scan outlives a scanner hiccup; any other error is the step's to judge.
      if (!isTransient(err)) return {};
      this.log.debug(`task ${scan.taskId}: poll failed (${(err as Error).message}); will poll again`);
      const earlier = failures.get(scan.instanceId);
      failures.set(scan.instanceId, {
        count: (earlier?.count ?? 0) + 1,
        message: earlier?.message ?? (err as Error).message,
      });
      return 'unchanged';
    }
  }
}
