import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { NotFoundError } from '../common/errors';
import { DeadLetter, DeadLetterStore } from '../queue/dead-letter.store';
import { ScanQueue } from '../queue/scan-queue';
import { ScanLifecycle } from '../scans/scan-lifecycle.service';
import { TERMINAL_STATUSES } from '../tasks/task';
import { TasksService } from '../tasks/tasks.service';
import { CliCommand, fields, RedisReadiness, table, UsageError } from './cli-support';

/** The error a purged task ends with. */
export const PURGE_ERROR = 'abandoned by operator from the dead-letter list';

interface JsonOption {
  json?: boolean;
}

function taskIdArg(args: string[], usage: string): string {
  if (args.length !== 1) throw new UsageError(`usage: ${usage}`);
  return args[0];
}

/** Every entry, oldest first (the store pages from the oldest). */
async function allEntries(store: DeadLetterStore): Promise<DeadLetter[]> {
  return store.list(Math.max(1, await store.size()));
}

@SubCommand({ name: 'list', description: 'tasks whose step failed every retry, oldest first' })
export class DlqListCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly store: DeadLetterStore,
  ) {
    super();
  }

  async run(_args: string[], options: JsonOption = {}): Promise<void> {
    this.ready.assert();
    const entries = await allEntries(this.store);
    this.emit(options, { entries, total: entries.length }, () =>
      entries.length === 0
        ? 'the dead-letter list is empty'
        : table(
            ['TASK', 'FAILED AT', 'ATTEMPTS', 'ERROR'],
            entries.map((e) => [e.task_id, e.failed_at, e.attempts, e.error.slice(0, 100)]),
          ),
    );
  }
}

@SubCommand({
  name: 'inspect',
  arguments: '<taskId>',
  description: 'a dead-lettered task: its entry and its task',
})
export class DlqInspectCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly store: DeadLetterStore,
    private readonly tasks: TasksService,
  ) {
    super();
  }

  async run(args: string[], options: JsonOption = {}): Promise<void> {
    const taskId = taskIdArg(args, 'dlq inspect <taskId>');
    this.ready.assert();
    const entry = await this.store.get(taskId);
    if (!entry) throw new NotFoundError(`task ${taskId} is not on the dead-letter list`);
    const task = await this.tasks.find(taskId);
    this.emit(options, { entry, task: task ? this.tasks.toPublic(task) : null }, () =>
      fields([
        ['task', entry.task_id],
        ['job', entry.job_id],
        ['failed at', entry.failed_at],
        ['attempts', entry.attempts],
        ['error', entry.error],
        ['status', task ? `${task.status} (${task.phase})` : 'task file missing'],
        ['scanner', task ? `${task.scanner_pool}/${task.scanner_instance ?? '-'}` : null],
        ['nessus scan', task?.nessus_scan_id],
        ['trace id', task?.trace_id],
      ]),
    );
  }
}

@SubCommand({
  name: 'retry',
  arguments: '<taskId>',
  description: 'take a task off the list and give it a fresh job',
})
export class DlqRetryCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly store: DeadLetterStore,
    private readonly tasks: TasksService,
    private readonly queue: ScanQueue,
  ) {
    super();
  }

  async run(args: string[], options: JsonOption = {}): Promise<void> {
    const taskId = taskIdArg(args, 'dlq retry <taskId>');
    this.ready.assert();
    if (!(await this.store.has(taskId)))
      throw new NotFoundError(`task ${taskId} is not on the dead-letter list`);
    const task = await this.tasks.find(taskId);
    if (!task) {
      await this.store.remove(taskId);
      throw new NotFoundError(`task ${taskId} has no task file any more; its dead-letter entry was removed`);
    }
    await this.store.remove(taskId);
    if (TERMINAL_STATUSES.has(task.status)) {
      this.emit(
        options,
        { task_id: taskId, retried: false, status: task.status },
        () => `task ${taskId} is already ${task.status}; removed from the dead-letter list, nothing to retry`,
      );
      return;
    }
    // The note the dead-lettering left on the task goes: it moves again.
    if (task.error !== null) await this.tasks.update(taskId, task.version, { error: null });
    const jobId = await this.queue.restart({ taskId, traceId: task.trace_id }, 'dlq-retry');
    this.emit(
      options,
      { task_id: taskId, retried: true, status: task.status, job_id: jobId },
      () => `task ${taskId} (${task.status}) re-enqueued as job ${jobId}`,
    );
  }
}

@SubCommand({
  name: 'purge',
  description: `fail every dead-lettered unfinished task ("${PURGE_ERROR}") and empty the list`,
})
export class DlqPurgeCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly store: DeadLetterStore,
    private readonly tasks: TasksService,
    private readonly lifecycle: ScanLifecycle,
  ) {
    super();
  }

  @Option({ flags: '--yes', description: 'confirm; without it nothing is changed' })
  parseYes(): boolean {
    return true;
  }

  async run(_args: string[], options: JsonOption & { yes?: boolean } = {}): Promise<void> {
    this.ready.assert();
    const entries = await allEntries(this.store);
    if (!options.yes) {
      throw new UsageError(
        `dlq purge fails ${entries.length} dead-lettered task(s) and empties the list; add --yes to do it`,
      );
    }
    const purged: { task_id: string; previous_status: string | null; failed: boolean }[] = [];
    for (const entry of entries) {
      const task = await this.tasks.find(entry.task_id);
      let failed = false;
      // Failed, its scan stopped, what it held freed (lease, waiting line, credentials).
      if (task && !TERMINAL_STATUSES.has(task.status))
        failed = (await this.lifecycle.end(task.task_id, 'failed', PURGE_ERROR)) !== null;
      await this.store.remove(entry.task_id);
      purged.push({ task_id: entry.task_id, previous_status: task?.status ?? null, failed });
    }
    this.emit(options, { purged, total: purged.length }, () =>
      purged.length === 0
        ? 'the dead-letter list is empty; nothing to purge'
        : `${table(
            ['TASK', 'WAS', 'NOW'],
            purged.map((p) => [
              p.task_id,
              p.previous_status ?? 'no task file',
              p.failed ? 'failed' : p.previous_status,
            ]),
          )}\npurged ${purged.length} dead-letter entr${purged.length === 1 ? 'y' : 'ies'}`,
    );
  }
}

@Command({
  name: 'dlq',
  description: 'the dead-letter list',
  subCommands: [DlqListCommand, DlqInspectCommand, DlqRetryCommand, DlqPurgeCommand],
})
export class DlqCommand extends CommandRunner {
  async run(): Promise<void> {
    throw new UsageError('dlq: name a subcommand (list, inspect, retry, purge)');
  }
}
