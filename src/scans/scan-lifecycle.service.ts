import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { CredentialVault } from '../queue/credential-vault';
import { ScanQueue } from '../queue/scan-queue';
import { WaitingLine } from '../queue/waiting-line';
import { CapacityLeases } from '../scanners/capacity-leases.store';
import { NessusClients } from '../scanners/nessus-clients.service';
import { NessusError } from '../scanners/nessus/nessus-errors';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { ConflictError, NotFoundError } from '../common/errors';
import { Task, TaskStatus } from '../tasks/task';
import { TasksService } from '../tasks/tasks.service';
import { ActiveTaskQuota } from './active-task-quota';

/** Every Nessus scan this service creates is named after its task, so a retried step can find it. */
export function nessusScanName(taskId: string): string {
  return `orch-${taskId}`;
}

const DEFAULT_SCAN_MINUTES = 10;

/** Terminal states whose clean-up stops the Nessus scan: nothing of it is wanted any more. */
const STOPPED_ON_SETTLE: ReadonlySet<TaskStatus> = new Set(['cancelled', 'timeout']);

/**
 * What happens around a task's steps, shared by the API (cancel, estimates) and the workers
 * (settling a task that reached a terminal state).
 */
@Injectable()
export class ScanLifecycle {
  private readonly log = new Logger(ScanLifecycle.name);

  constructor(
    private readonly tasks: TasksService,
    private readonly registry: ScannerRegistry,
    private readonly leases: CapacityLeases,
    private readonly clients: NessusClients,
    private readonly waiting: WaitingLine,
    private readonly vault: CredentialVault,
    private readonly queue: ScanQueue,
    private readonly idempotency: IdempotencyService,
    private readonly redis: RedisService,
    private readonly quota: ActiveTaskQuota,
  ) {}

  /**
   * Ends an unfinished task that no step will end (a dead letter an operator purges, or one past its
   * SCAN_TIMEOUT_SECONDS): `status` with `error`, its Nessus scan stopped, then settled. Null when it
   * ended or went meanwhile (a late job finished it, an operator got there first).
   */
  async end(taskId: string, status: 'failed' | 'timeout', error: string): Promise<Task | null> {
    let ended: Task;
    try {
      ended = await this.tasks.transition(taskId, status, { error });
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError) return null;
      throw err;
    }
    if (!STOPPED_ON_SETTLE.has(ended.status)) await this.stopQuietly(ended);
    await this.settle(ended);
    return ended;
  }

  /**
   * Cleans up after a terminal state; safe to repeat: frees the scanner lease and the client's place
   * under MAX_ACTIVE_TASKS_PER_CLIENT, leaves the waiting line, drops credentials, stops the Nessus scan
   * of a cancelled or timed-out task, and wakes the next waiting task of the pool.
   */
  async settle(task: Task): Promise<void> {
    if (STOPPED_ON_SETTLE.has(task.status)) await this.stopQuietly(task);
    await this.vault.discard(task.task_id);
    await this.quota.release(task.client_id, task.task_id);
    await this.waiting.leave(task.scanner_pool, task.task_id);
    await this.idempotency.keepAlive(task.idempotency_key_hash);
    if (task.scanner_instance) {
      await this.leases.release(task.scanner_instance, task.task_id);
      await this.wakeNext(task.scanner_pool);
    }
    await this.queue.forgetChain(task.task_id);
  }

  /** Stops the task's Nessus scan if it has one; a scanner that can't be reached is logged, not fatal. */
  async stopQuietly(task: Task): Promise<void> {
    if (!task.scanner_instance || task.nessus_scan_id === null) return;
    try {
      await this.clients.client(task.scanner_instance).stopScan(task.nessus_scan_id);
    } catch (err) {
      if (err instanceof NessusError && err.kind === 'not_found') return;
      this.log.warn(
        `task ${task.task_id}: could not stop Nessus scan ${task.nessus_scan_id}: ${(err as Error).message}`,
      );
    }
  }

  /** Capacity left in a pool: enabled, healthy scanners' max minus their active leases. */
  async freeSlots(pool: string): Promise<number> {
    const status = await this.registry.capacity(pool);
    return status.available;
  }

  /** Minutes until a task at `position` of its pool's line is likely to start. */
  async estimateWaitMinutes(pool: string, position: number | null): Promise<number> {
    if (position === null) return 0;
    const { available, total } = await this.registry.capacity(pool);
    const ahead = Math.max(0, position - available);
    if (ahead === 0) return 0;
    const avg =
      Number(await this.redis.client.get(this.redis.key('stats', 'scan_minutes', pool))) ||
      DEFAULT_SCAN_MINUTES;
    return Math.ceil(Math.ceil(ahead / Math.max(1, total)) * avg);
  }

  /** Keeps a moving average of scan durations per pool for wait estimates. */
  async recordDuration(task: Task): Promise<void> {
    if (!task.started_at) return;
    const minutes = (Date.now() - Date.parse(task.started_at)) / 60_000;
    const key = this.redis.key('stats', 'scan_minutes', task.scanner_pool);
    const prev = Number(await this.redis.client.get(key));
    const next = prev > 0 ? prev * 0.8 + minutes * 0.2 : minutes;
    await this.redis.client.set(key, next.toFixed(3));
  }

  /** The head of the pool's line gets a fresh step now rather than at its next backoff. */
  private async wakeNext(pool: string): Promise<void> {
    const [head] = await this.waiting.head(pool, 1);
    if (!head) return;
    const task = await this.tasks.find(head);
    if (!task) return;
    await this.queue.restart({ taskId: head, traceId: task.trace_id }, 'wake');
  }
}
