import { Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { ConflictError, NotFoundError } from '../common/errors';
import { DeadLetterStore } from '../queue/dead-letter.store';
import { WaitingLine } from '../queue/waiting-line';
import { ResultsQuery } from '../results/results-query';
import { ResultsService } from '../results/results.service';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { ScannersService } from '../scanners/scanners.service';
import { Task, TaskStatus } from '../tasks/task';
import { StaleVersionError } from '../tasks/task.store';
import { TasksService } from '../tasks/tasks.service';
import { ScanLifecycle } from './scan-lifecycle.service';

export interface ListTasksQuery {
  limit?: number;
  status_filter?: TaskStatus;
  scanner_pool?: string;
  target_filter?: string;
}

/** Reads and commands on existing scans, shared by REST and MCP: status, results, list, cancel, queue. */
@Injectable()
export class ScanQueries {
  constructor(
    private readonly tasks: TasksService,
    private readonly resultStore: ResultsService,
    private readonly lifecycle: ScanLifecycle,
    private readonly waiting: WaitingLine,
    private readonly deadLetters: DeadLetterStore,
    private readonly registry: ScannerRegistry,
    private readonly scanners: ScannersService,
  ) {}

  async status(taskId: string, clientId: string) {
    return this.tasks.toPublic(await this.tasks.get(taskId, clientId));
  }

  async results(taskId: string, clientId: string, query: ResultsQuery) {
    const task = await this.tasks.get(taskId, clientId);
    return this.resultStore.query(task, this.tasks.taskDir(task.task_id), query);
  }

  /** Path of the raw .nessus export of a completed task. */
  async reportPath(taskId: string, clientId: string): Promise<string> {
    const task = await this.tasks.get(taskId, clientId);
    if (task.status !== 'completed') {
      throw new ConflictError(`the report is not available: task ${task.task_id} is ${task.status}`);
    }
    const path = join(this.tasks.taskDir(task.task_id), 'scan.nessus');
    await stat(path).catch(() => {
      throw new NotFoundError(`the raw report of task ${task.task_id} is no longer stored`);
    });
    return path;
  }

  async list(query: ListTasksQuery, clientId: string) {
    const { tasks, total } = await this.tasks.list({
      limit: query.limit,
      status: query.status_filter,
      pool: query.scanner_pool,
      target: query.target_filter,
      clientId,
    });
    return { tasks, total };
  }

  /** A queued task ends cancelled at once; a running one is stopped on Nessus and ends cancelled. */
  async cancel(taskId: string, clientId: string) {
    for (let attempt = 0; ; attempt++) {
      const task = await this.tasks.get(taskId, clientId);
      try {
        const cancelled = await this.tasks.update(task.task_id, task.version, {
          status: 'cancelled',
          error: 'cancelled by the client',
        });
        await this.lifecycle.settle(cancelled);
        return this.tasks.toPublic(cancelled);
      } catch (err) {
        // A worker wrote the task in between: read it again (a refused transition is not retried).
        if (!(err instanceof StaleVersionError) || attempt >= 4) throw err;
      }
    }
  }

  async queueStatus(pool?: string) {
    const snapshot = this.registry.snapshot();
    const name = pool ?? snapshot.defaultPool;
    // A pool looked up by name, as in list_scanners and get_pool_status: unknown is 404, not a bad field.
    if (!snapshot.hasPool(name)) throw this.registry.unknownPool(name);
    const [depth, ids, dlq, poolStatus] = await Promise.all([
      this.waiting.size(name),
      this.waiting.head(name, 10),
      this.deadLetters.size(),
      this.scanners.poolStatus(name),
    ]);
    const next = await Promise.all(ids.map((id) => this.tasks.find(id)));
    return {
      pool: name,
      queue_depth: depth,
      running: poolStatus.total_active,
      dlq_size: dlq,
      next_tasks: next
        .filter((t): t is Task => t !== null)
        .map((t, i) => ({ task_id: t.task_id, name: t.name, position: i + 1, created_at: t.created_at })),
      timestamp: new Date().toISOString(),
    };
  }
}
