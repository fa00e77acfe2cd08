import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { withRedisLock } from '../common/redis/redis-lock';
import { RedisService } from '../common/redis/redis.service';
import { IdempotencyStore } from '../idempotency/idempotency.store';
import { MetricsService } from '../metrics/metrics.service';
import { NessusClients } from '../scanners/nessus-clients.service';
import { Task, TERMINAL_STATUSES } from '../tasks/task';
import { TasksService } from '../tasks/tasks.service';

/** First run this long after start, so a deploy's start-up is not slowed by it. */
export const HOUSEKEEPING_START_DELAY_MS = 60_000;
/** Then once an hour. */
export const HOUSEKEEPING_INTERVAL_MS = 3_600_000;
/** A worker that dies mid-run blocks the others no longer than this (the lock is renewed while it runs). */
const LOCK_TTL_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The sweep for leftover temporary files reads every task directory: once a day is enough. */
const TEMP_SWEEP_EVERY_SECONDS = 86_400;

/** What one housekeeping run did. */
export interface HousekeepingSummary {
  /** Task directories looked at. */
  checked: number;
  tasks_removed: number;
  removed_task_ids: string[];
  bytes_freed: number;
  nessus_scans_deleted: number;
  /** Temporary files of writers killed mid-write removed (by the day's first run; 0 in the others). */
  temp_files_removed: number;
  /** Tasks or Nessus scans that could not be removed this time (tried again on the next run). */
  errors: number;
}

/** The housekeeping settings (AppConfig.housekeeping). */
export interface RetentionPolicy {
  completedTtlDays: number;
  failedTtlDays: number;
  nessusScanRetentionHours: number;
}

/**
 * What housekeeping does to a task at `nowMs`: a finished task's directory goes once it ended at least
 * the TTL of its status ago (completed: completedTtlDays; failed, timeout, cancelled: failedTtlDays), its
 * Nessus scan once it ended nessusScanRetentionHours ago. An unfinished task is always left alone.
 */
export function dueActions(
  task: Pick<Task, 'status' | 'completed_at' | 'scanner_instance' | 'nessus_scan_id'>,
  nowMs: number,
  policy: RetentionPolicy,
): { removeTask: boolean; deleteScan: boolean } {
  const none = { removeTask: false, deleteScan: false };
  if (!TERMINAL_STATUSES.has(task.status) || !task.completed_at) return none;
  const endedMs = Date.parse(task.completed_at);
  if (!Number.isFinite(endedMs)) return none;
  const age = nowMs - endedMs;
  const ttlDays = task.status === 'completed' ? policy.completedTtlDays : policy.failedTtlDays;
  return {
    removeTask: age >= ttlDays * DAY_MS,
    deleteScan:
      task.scanner_instance !== null &&
      task.nessus_scan_id !== null &&
      age >= policy.nessusScanRetentionHours * HOUR_MS,
  };
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let handle;
  try {
    handle = await opendir(dir);
  } catch {
    return 0;
  }
  for await (const entry of handle) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else
      total += await lstat(path).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * Worker-mode clean-up, one worker at a time (a Redis lock): deletes the directories of finished tasks
 * after COMPLETED_TTL_DAYS (completed) or FAILED_TTL_DAYS (failed, timeout, cancelled), with the
 * idempotency key that names one (a replay then submits afresh), and deletes a
 * finished task's scan from Nessus NESSUS_SCAN_RETENTION_HOURS after it ended. An unfinished task is
 * never touched. The day's first run also removes the temporary files of writers killed mid-write. Runs
 * shortly after start, then hourly; each run logs one summary line.
 */
@Injectable()
export class HousekeepingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(HousekeepingService.name);
  private startTimer?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly config: AppConfig,
    private readonly tasks: TasksService,
    private readonly clients: NessusClients,
    private readonly redis: RedisService,
    private readonly keys: IdempotencyStore,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () => {
      this.running = this.runIfLeader().catch((err: Error) =>
        this.log.warn(`housekeeping failed: ${err.message}`),
      );
    };
    this.startTimer = setTimeout(() => {
      tick();
      this.timer = setInterval(tick, HOUSEKEEPING_INTERVAL_MS);
    }, HOUSEKEEPING_START_DELAY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.startTimer);
    clearInterval(this.timer);
    await this.running;
  }

  /** Set of task ids whose Nessus scan housekeeping already deleted, so it is not asked for again. */
  private get deletedScansKey(): string {
    return this.redis.key('housekeeping', 'nessus-deleted');
  }

  /** Runs once unless another worker is running housekeeping; null then. */
  async runIfLeader(now = new Date()): Promise<HousekeepingSummary | null> {
    const pass = await withRedisLock(
      this.redis.client,
      this.redis.key('lock', 'housekeeping'),
      LOCK_TTL_MS,
      () => this.runOnce(now),
    );
    return pass.acquired ? pass.value : null;
  }

  /** Set (with a day's TTL) by the run that swept temporary files. */
  private get tempSweepKey(): string {
    return this.redis.key('housekeeping', 'temp-sweep');
  }

  /** One pass over every stored task, judged against `now`. */
  async runOnce(now = new Date()): Promise<HousekeepingSummary> {
    const summary: HousekeepingSummary = {
      checked: 0,
      tasks_removed: 0,
      removed_task_ids: [],
      bytes_freed: 0,
      nessus_scans_deleted: 0,
      temp_files_removed: 0,
      errors: 0,
    };
    for await (const taskId of this.tasks.store.listIds()) {
      summary.checked++;
      let task: Task | null;
      try {
        task = await this.tasks.store.get(taskId);
      } catch (err) {
        summary.errors++;
        this.log.warn(`housekeeping: task ${taskId} skipped: ${(err as Error).message}`);
        continue;
      }
      if (task) await this.tidy(task, now.getTime(), summary);
    }
    await this.sweepTempFiles(summary);
    this.metrics?.housekeepingRun(summary);
    const removed = summary.removed_task_ids;
    const shown =
      removed.length > 20
        ? `${removed.slice(0, 20).join(', ')} and ${removed.length - 20} more`
        : removed.join(', ');
    this.log.log(
      `housekeeping: checked ${summary.checked} task(s); removed ${summary.tasks_removed} (${mib(summary.bytes_freed)} freed)` +
        `${removed.length ? `: ${shown}` : ''}; deleted ${summary.nessus_scans_deleted} Nessus scan(s); ` +
        `removed ${summary.temp_files_removed} leftover temporary file(s); ${summary.errors} error(s)`,
    );
    return summary;
  }

  private async sweepTempFiles(summary: HousekeepingSummary): Promise<void> {
    const first = await this.redis.client.set(this.tempSweepKey, '1', 'EX', TEMP_SWEEP_EVERY_SECONDS, 'NX');
    if (first !== 'OK') return;
    try {
      summary.temp_files_removed = await this.tasks.store.removeLeftoverTempFiles();
    } catch (err) {
      summary.errors++;
      this.log.warn(`housekeeping: sweeping temporary files failed: ${(err as Error).message}`);
    }
  }

  private async tidy(task: Task, nowMs: number, summary: HousekeepingSummary): Promise<void> {
    const due = dueActions(task, nowMs, this.config.housekeeping);
    if (due.deleteScan) {
      const deleted = await this.deleteNessusScan(task, due.removeTask);
      if (deleted === 'deleted') summary.nessus_scans_deleted++;
      if (deleted === 'failed') summary.errors++;
    }
    if (!due.removeTask) return;
    try {
      const bytes = await directoryBytes(this.tasks.taskDir(task.task_id));
      // First: a key still naming a removed task would make its replay create and run that task again.
      if (task.idempotency_key_hash) await this.keys.release(task.idempotency_key_hash, task.task_id);
      await this.tasks.delete(task.task_id);
      await this.redis.client.srem(this.deletedScansKey, task.task_id);
      summary.tasks_removed++;
      summary.removed_task_ids.push(task.task_id);
      summary.bytes_freed += bytes;
    } catch (err) {
      summary.errors++;
      this.log.warn(`housekeeping: task ${task.task_id} not removed: ${(err as Error).message}`);
    }
  }

  private async deleteNessusScan(task: Task, taskExpiring: boolean): Promise<'deleted' | 'none' | 'failed'> {
    if (!task.scanner_instance || task.nessus_scan_id === null) return 'none';
    if (await this.redis.client.sismember(this.deletedScansKey, task.task_id)) return 'none';
    try {
      await this.clients.client(task.scanner_instance).deleteScan(task.nessus_scan_id);
      await this.redis.client.sadd(this.deletedScansKey, task.task_id);
      return 'deleted';
    } catch (err) {
      // The task directory still goes at its TTL; the log line is then the only pointer to the scan.
      const orphan = taskExpiring ? ' (the task is removed now; delete that scan by hand)' : '';
      this.log.warn(
        `housekeeping: Nessus scan ${task.nessus_scan_id} of task ${task.task_id} on ${task.scanner_instance} not deleted${orphan}: ${(err as Error).message}`,
      );
      return 'failed';
    }
  }
}
