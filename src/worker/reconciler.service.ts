import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { withRedisLock } from '../common/redis/redis-lock';
import { RedisService } from '../common/redis/redis.service';
import { DeadLetterStore } from '../queue/dead-letter.store';
import { ScanQueue } from '../queue/scan-queue';
import { WaitingLine } from '../queue/waiting-line';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { CapacityLeases, leaseTtlMs } from '../scanners/capacity-leases.store';
import { ActiveTaskQuota } from '../scans/active-task-quota';
import { ScanLifecycle } from '../scans/scan-lifecycle.service';
import { ANONYMOUS_CLIENT, parseApiKeys } from '../security/api-key.guard';
import { Task } from '../tasks/task';
import { isTerminal } from '../tasks/task-state-machine';
import { TasksService } from '../tasks/tasks.service';
import { scanDeadlineMs, scanTimeoutError } from './scan-deadline';

export interface ReconcileReport {
  checked: number;
  reseeded: string[];
  /** Dead-lettered tasks are left to an operator; those holding a scanner keep their lease meanwhile. */
  skipped_dead_letters: number;
  /** Dead-lettered running tasks past SCAN_TIMEOUT_SECONDS: scan stopped, ended `timeout`, off the list. */
  timed_out: string[];
  /** Waiting-line entries of tasks no longer waiting (ended or gone), removed. */
  waiting_pruned: string[];
  /** Places under MAX_ACTIVE_TASKS_PER_CLIENT held by tasks that ended or are gone, freed. */
  quota_freed: string[];
  /** Unfinished tasks given their place back (a Redis restart had lost it). */
  quota_restored: string[];
}

/** Entries looked at per pool and pass: the head of a line is what holds admissions back. */
const PRUNE_HEAD = 100;

/**
 * Gives every unfinished task without a live job a job again, at worker start and every
 * RECONCILE_INTERVAL_SECONDS: a Redis restart or flush, or a chain broken by a crash, loses no task.
 * The task files are the source of truth; one worker reconciles at a time.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(Reconciler.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  /** How long a chain that looks dead is left to settle before it is re-seeded. */
  settleMs = 1000;
  /** A submission holds its quota place a moment before its task is stored: younger places are left alone. */
  quotaGraceMs = 60_000;
  /** Clients whose places are mended even when they have no unfinished task left. */
  private readonly knownClients: string[];

  constructor(
    private readonly config: AppConfig,
    private readonly tasks: TasksService,
    private readonly queue: ScanQueue,
    private readonly waiting: WaitingLine,
    private readonly deadLetters: DeadLetterStore,
    private readonly redis: RedisService,
    private readonly quota: ActiveTaskQuota,
    private readonly leases: CapacityLeases,
    private readonly idempotency: IdempotencyService,
    private readonly lifecycle: ScanLifecycle,
  ) {
    this.knownClients = [...parseApiKeys(config.security.apiKeys).map((k) => k.clientId), ANONYMOUS_CLIENT];
  }

  onApplicationBootstrap(): void {
    const every = this.config.pipeline.reconcileIntervalSeconds * 1000;
    const tick = () => {
      this.running = this.reconcileIfLeader().catch((err: Error) =>
        this.log.warn(`reconcile failed: ${err.message}`),
      );
    };
    setImmediate(tick);
    this.timer = setInterval(tick, every);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs a pass unless another worker holds the reconcile lock. */
  async reconcileIfLeader(): Promise<ReconcileReport | null> {
    // Not connected (start-up or outage): the next tick tries again.
    if (!(await this.redis.whenReady(5000))) return null;
    const ttl = Math.max(10, this.config.pipeline.reconcileIntervalSeconds) * 1000;
    const pass = await withRedisLock(this.redis.client, this.redis.key('lock', 'reconcile'), ttl, () =>
      this.reconcile(),
    );
    return pass.acquired ? pass.value : null;
  }

  /** One pass over every queued or running task. */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      checked: 0,
      reseeded: [],
      skipped_dead_letters: 0,
      timed_out: [],
      waiting_pruned: [],
      quota_freed: [],
      quota_restored: [],
    };
    const suspects: { task: Task; pointer: string | null }[] = [];
    const waitingIn = new Map<string, Set<string>>();
    const activeOf = new Map<string, Set<string>>();
    for await (const task of this.tasks.unfinished()) {
      report.checked++;
      const parked = await this.deadLetters.has(task.task_id);
      const overdue = parked ? await this.timeOutParked(task) : 'not_due';
      if (overdue === 'timed_out') report.timed_out.push(task.task_id);
      if (overdue !== 'not_due') continue;
      activeOf.set(task.client_id, (activeOf.get(task.client_id) ?? new Set<string>()).add(task.task_id));
      if (parked) {
        report.skipped_dead_letters++;
        await this.keepParkedHeld(task);
        continue;
      }
      // A queued task waiting for a scanner runs no step that would renew its key (polls renew running ones).
      if (task.status === 'queued') await this.idempotency.keepAlive(task.idempotency_key_hash);
      if (task.phase === 'waiting_for_scanner') {
        await this.waiting.join(task.scanner_pool, task.task_id, Date.parse(task.created_at));
        const pool = waitingIn.get(task.scanner_pool) ?? new Set<string>();
        waitingIn.set(task.scanner_pool, pool.add(task.task_id));
      }
      const chain = await this.queue.chainStatus(task.task_id);
      if (!chain.live) suspects.push({ task, pointer: chain.pointer });
    }
    // A step enqueues its successor in two writes (pointer, then job): a chain caught between them looks
    // dead. Look again once such writes have landed, so a live chain never gets a second one beside it.
    if (suspects.length) await sleep(this.settleMs);
    for (const { task, pointer } of suspects) {
      const chain = await this.queue.chainStatus(task.task_id);
      if (chain.live || chain.pointer !== pointer) continue;
      const current = await this.tasks.find(task.task_id);
      if (!current || isTerminal(current.status)) continue;
      await this.queue.restart({ taskId: task.task_id, traceId: task.trace_id }, 'reconcile');
      report.reseeded.push(task.task_id);
    }
    if (report.timed_out.length) {
      this.log.warn(
        `reconciler ended ${report.timed_out.length} dead-lettered task(s) past SCAN_TIMEOUT_SECONDS: ${report.timed_out.join(', ')}`,
      );
    }
    if (report.reseeded.length) {
      this.log.warn(`reconciler re-seeded ${report.reseeded.length} task(s) that had no live job`);
    }
    for (const [pool, waitingIds] of waitingIn) {
      report.waiting_pruned.push(...(await this.pruneWaitingLine(pool, waitingIds)));
    }
    if (report.waiting_pruned.length) {
      this.log.warn(
        `reconciler removed ${report.waiting_pruned.length} waiting-line entries of tasks no longer waiting`,
      );
    }
    if (this.quota.cap > 0) await this.mendQuotas(activeOf, report);
    if (report.quota_freed.length || report.quota_restored.length) {
      this.log.warn(
        `reconciler freed ${report.quota_freed.length} and restored ${report.quota_restored.length} client quota places`,
      );
    }
    return report;
  }

  /**
   * A dead-lettered running task has no poll to enforce SCAN_TIMEOUT_SECONDS, so its scan would run on
   * (holding its slot) until an operator came: past the deadline it is stopped and ends `timeout`, as a
   * polled one would. Queued ones never started a scan and stay for the operator.
   */
  private async timeOutParked(task: Task): Promise<'not_due' | 'timed_out' | 'ended_meanwhile'> {
    const timeoutSeconds = this.config.pipeline.scanTimeoutSeconds;
    if (task.status !== 'running' || Date.now() <= scanDeadlineMs(task, timeoutSeconds)) return 'not_due';
    if (!(await this.lifecycle.end(task.task_id, 'timeout', scanTimeoutError(timeoutSeconds)))) {
      return 'ended_meanwhile';
    }
    await this.deadLetters.remove(task.task_id);
    return 'timed_out';
  }

  /**
   * No worker steps or polls a dead-lettered task, so nothing renews what it holds: its Nessus scan may
   * still run, and a lapsed lease would hand its slot to another scan. Held until the next pass and beyond.
   */
  private async keepParkedHeld(task: Task): Promise<void> {
    await this.idempotency.keepAlive(task.idempotency_key_hash);
    if (!task.scanner_instance) return;
    const ttl = Math.max(
      leaseTtlMs(this.config.pipeline.pollIntervalSeconds),
      (2 * this.config.pipeline.reconcileIntervalSeconds + 60) * 1000,
    );
    await this.leases.renew(task.scanner_instance, task.task_id, ttl);
  }

  /**
   * A task that ended while Redis was unreachable, or a submission that crashed before storing its task,
   * would hold a place under its client's cap forever; a Redis restart loses the places of running tasks.
   */
  private async mendQuotas(activeOf: Map<string, Set<string>>, report: ReconcileReport): Promise<void> {
    for (const clientId of new Set([...activeOf.keys(), ...this.knownClients])) {
      const active = activeOf.get(clientId) ?? new Set<string>();
      const held = await this.quota.places(clientId);
      for (const [taskId, heldMs] of held) {
        if (heldMs < this.quotaGraceMs || active.has(taskId)) continue;
        // The pass reads a bounded number of tasks per status: one it did not see may still be running.
        const task = await this.tasks.find(taskId);
        if (task && !isTerminal(task.status)) continue;
        await this.quota.release(clientId, taskId);
        report.quota_freed.push(taskId);
      }
      for (const taskId of active) {
        if (held.has(taskId)) continue;
        // Read again: it may have ended (and left its place) since the pass listed it.
        const task = await this.tasks.find(taskId);
        if (task && !isTerminal(task.status) && (await this.quota.restore(clientId, taskId))) {
          report.quota_restored.push(taskId);
        }
      }
    }
  }

  /**
   * An entry whose task ended or is gone without leaving the line (its settle could not reach Redis)
   * would hold one admission of the pool forever; entries seen waiting in this pass are kept unread.
   */
  private async pruneWaitingLine(pool: string, waitingIds: Set<string>): Promise<string[]> {
    const pruned: string[] = [];
    for (const taskId of await this.waiting.head(pool, PRUNE_HEAD)) {
      if (waitingIds.has(taskId)) continue;
      const task = await this.tasks.find(taskId);
      if (task && !isTerminal(task.status) && task.phase === 'waiting_for_scanner') continue;
      await this.waiting.leave(pool, taskId);
      pruned.push(taskId);
    }
    return pruned;
  }
}
