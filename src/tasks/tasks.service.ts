import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { NotFoundError, ValidationError } from '../common/errors';
import { MetricsService } from '../metrics/metrics.service';
import { MAX_LIST_LIMIT, PublicTask, Task, TASK_STATUSES, TaskPatch, TaskStatus, toPublicTask } from './task';
import { isValidTaskId } from './task-id';
import { TaskIndex } from './task-index';
import { StaleVersionError, TaskStore } from './task.store';

/** list_tasks arguments, already named for the domain (transports map status_filter etc. onto them). */
export interface ListTasksQuery {
  /** Default 10, clamped to 1–MAX_LIST_LIMIT. */
  limit?: number;
  status?: string;
  pool?: string;
  target?: string;
  /** The caller; when set, only its tasks are listed. */
  clientId?: string;
}

export const DEFAULT_LIST_LIMIT = 10;
/** Upper bound of unfinished tasks one reconcile pass looks at per status. */
const UNFINISHED_SCAN_LIMIT = 100_000;

function notFound(taskId: unknown): NotFoundError {
  const shown =
    typeof taskId === 'string' && taskId.length <= 64 ? taskId : JSON.stringify(String(taskId).slice(0, 64));
  return new NotFoundError(`task ${shown} not found`);
}

/**
 * Tasks for the API and the worker: the file store is the source of truth, the Redis index serves
 * listing. Every write goes through the state machine with a version check; a task of another client
 * is reported as not found, exactly like a missing or malformed id.
 */
@Injectable()
export class TasksService implements OnApplicationBootstrap {
  private readonly log = new Logger(TasksService.name);

  constructor(
    readonly store: TaskStore,
    private readonly index: TaskIndex,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    // Redis may still be starting; the first list_tasks retries the rebuild if this one fails.
    void this.index
      .ensureBuilt(this.store)
      .catch((err: Error) => this.log.warn(`task index not built yet: ${err.message}`));
  }

  /** Stores a new task and indexes it; 'exists' when the id is taken (nothing is changed then). */
  async create(task: Task): Promise<'created' | 'exists'> {
    const result = await this.store.create(task);
    if (result === 'created') {
      this.metrics?.taskTransition(null, task.status);
      await this.index.upsert(task);
    }
    return result;
  }

  /** The full task (internal fields included). NotFoundError for malformed, unknown or other clients' ids. */
  async get(taskId: string, clientId?: string): Promise<Task> {
    if (!isValidTaskId(taskId)) throw notFound(taskId);
    const task = await this.store.get(taskId);
    if (!task || (clientId !== undefined && task.client_id !== clientId)) throw notFound(taskId);
    return task;
  }

  /** The task as get_scan_status returns it. */
  async getPublic(taskId: string, clientId?: string): Promise<PublicTask> {
    return toPublicTask(await this.get(taskId, clientId));
  }

  /**
   * Compare-and-swap update through the state machine; returns the new task. Throws StaleVersionError
   * when the task moved past `expectedVersion`, InvalidTransitionError for a refused transition.
   */
  async update(taskId: string, expectedVersion: number, patch: TaskPatch): Promise<Task> {
    if (!isValidTaskId(taskId)) throw notFound(taskId);
    const next = await this.store.update(taskId, expectedVersion, patch, (previous, task) => {
      if (previous.status !== task.status) this.metrics?.taskTransition(previous.status, task.status);
    });
    await this.reindex(next);
    return next;
  }

  /**
   * Read-modify-write with retries on concurrent changes: `change` sees the current task and returns a
   * patch, or null to leave it as it is (then the current task is returned).
   */
  async mutate(taskId: string, change: (task: Task) => TaskPatch | null, attempts = 10): Promise<Task> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(taskId);
      const patch = change(current);
      if (patch === null) return current;
      try {
        return await this.update(taskId, current.version, patch);
      } catch (err) {
        if (!(err instanceof StaleVersionError) || attempt >= attempts) throw err;
      }
    }
  }

  /**
   * Moves a task to `status` (with extra fields), whatever version it is at; a task already in that
   * status is returned unchanged, a refused transition throws InvalidTransitionError.
   */
  async transition(taskId: string, status: TaskStatus, extra: TaskPatch = {}): Promise<Task> {
    return this.mutate(taskId, (task) => (task.status === status ? null : { ...extra, status }));
  }

  /** Deletes a task's directory and its index entry (housekeeping). */
  async delete(taskId: string): Promise<void> {
    if (!isValidTaskId(taskId)) throw notFound(taskId);
    await this.store.delete(taskId);
    await this.index.remove(taskId);
  }

  /** list_tasks: newest first; `total` counts every task matching the filters. */
  async list(query: ListTasksQuery = {}): Promise<{ tasks: PublicTask[]; total: number }> {
    const status = query.status === undefined || query.status === '' ? undefined : query.status;
    if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
      throw ValidationError.forFields({ status: `must be one of ${TASK_STATUSES.join(', ')}` });
    }
    const requested = query.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isFinite(requested)) throw ValidationError.forFields({ limit: 'must be a number' });
    const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(requested)));

    await this.index.ensureBuilt(this.store);
    const filter = {
      limit,
      status: status as TaskStatus | undefined,
      pool: query.pool || undefined,
      target: query.target || undefined,
      clientId: query.clientId,
    };
    const page = await this.index.list(filter);
    const loaded = await Promise.all(page.taskIds.map((id) => this.store.get(id).catch(() => null)));

    const tasks: PublicTask[] = [];
    let total = page.total;
    for (let i = 0; i < loaded.length; i++) {
      const task = loaded[i];
      if (!task) {
        // Deleted (or unreadable) since it was indexed: drop the stale entry.
        await this.index.remove(page.taskIds[i]).catch(() => undefined);
        total--;
        continue;
      }
      const stale =
        (filter.status && task.status !== filter.status) ||
        (filter.pool && task.scanner_pool !== filter.pool) ||
        (filter.clientId !== undefined && task.client_id !== filter.clientId);
      if (stale) {
        // The file moved on while an index write was lost: repair the entry, leave the task out.
        await this.index.upsert(task).catch(() => undefined);
        total--;
        continue;
      }
      tasks.push(toPublicTask(task));
    }
    return { tasks, total: Math.max(total, tasks.length) };
  }

  /** The task, or null for an unknown or malformed id. */
  async find(taskId: string): Promise<Task | null> {
    return isValidTaskId(taskId) ? this.store.get(taskId) : null;
  }

  /** The task's directory (the id is validated first). */
  taskDir(taskId: string): string {
    return this.store.taskDir(taskId);
  }

  /** Every queued or running task, oldest first, read from the index (rebuilt from the files if lost). */
  async *unfinished(): AsyncIterable<Task> {
    await this.index.ensureBuilt(this.store);
    for (const status of ['queued', 'running'] as const) {
      const { taskIds } = await this.index.list({ limit: UNFINISHED_SCAN_LIMIT, status });
      for (const id of taskIds.reverse()) {
        const task = await this.store.get(id).catch(() => null);
        if (task && task.status === status) yield task;
      }
    }
  }

  toPublic(task: Task): PublicTask {
    return toPublicTask(task);
  }

  private async reindex(task: Task): Promise<void> {
    try {
      await this.index.upsert(task);
    } catch (err) {
      // The file write succeeded and is the truth; list() repairs entries that fell behind.
      this.log.warn(`task ${task.task_id} written but not re-indexed: ${(err as Error).message}`);
    }
  }
}
