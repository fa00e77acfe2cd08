import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { DeadLetterStore } from '../queue/dead-letter.store';
import { WaitingLine } from '../queue/waiting-line';
import { MAX_LIST_LIMIT, TASK_STATUSES } from '../tasks/task';
import { isTargetQuery, TARGET_QUERY_PROBLEM } from '../tasks/target-terms';
import { TasksService } from '../tasks/tasks.service';
import { CliCommand, fields, positiveInt, RedisReadiness, table, UsageError } from './cli-support';

@SubCommand({
  name: 'show',
  arguments: '<taskId>',
  description: 'one task, with its history and queue state',
})
export class TaskShowCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly tasks: TasksService,
    private readonly deadLetters: DeadLetterStore,
    private readonly waiting: WaitingLine,
  ) {
    super();
  }

  async run(args: string[], options: { json?: boolean } = {}): Promise<void> {
    if (args.length !== 1) throw new UsageError('usage: task show <taskId>');
    this.ready.assert();
    const task = await this.tasks.get(args[0]);
    const deadLetter = await this.deadLetters.get(task.task_id);
    const position = await this.waiting.position(task.scanner_pool, task.task_id);
    const { idempotency_key_hash: _hash, idempotency_fingerprint: _fingerprint, ...shown } = task;
    const data = { ...shown, queue_position: position, dead_letter: deadLetter };
    this.emit(options, data, () =>
      [
        fields([
          ['task', task.task_id],
          ['name', task.name],
          ['status', `${task.status} (${task.phase}, ${task.progress}%)`],
          ['targets', task.targets.join(', ')],
          ['scan type', task.scan_type],
          ['scanner', `${task.scanner_pool}/${task.scanner_instance ?? '-'}`],
          ['nessus scan', task.nessus_scan_id],
          ['client', task.client_id],
          ['trace id', task.trace_id],
          ['created', task.created_at],
          ['started', task.started_at],
          ['completed', task.completed_at],
          ['error', task.error],
          ['results', task.results_summary],
          ['queue position', position],
          ['dead letter', deadLetter ? `${deadLetter.failed_at}: ${deadLetter.error}` : null],
        ]),
        '',
        table(
          ['AT', 'FROM', 'TO', 'REASON'],
          task.history.map((h) => [h.at, h.from ?? '-', h.to, h.reason]),
        ),
      ].join('\n'),
    );
  }
}

interface TaskListOptions {
  json?: boolean;
  status?: string;
  pool?: string;
  target?: string;
  limit?: number;
}

@SubCommand({ name: 'list', description: 'tasks of every client, newest first' })
export class TaskListCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly tasks: TasksService,
  ) {
    super();
  }

  @Option({ flags: '--status <status>', description: `one of ${TASK_STATUSES.join(', ')}` })
  parseStatus(value: string): string {
    if (!(TASK_STATUSES as readonly string[]).includes(value)) {
      throw new UsageError(
        `--status must be one of ${TASK_STATUSES.join(', ')} (got ${JSON.stringify(value)})`,
      );
    }
    return value;
  }

  @Option({ flags: '--pool <name>', description: 'only tasks of this scanner pool' })
  parsePool(value: string): string {
    return value;
  }

  @Option({
    flags: '--target <target>',
    description: 'only tasks whose targets cover this address, CIDR, range or host name',
  })
  parseTarget(value: string): string {
    if (!isTargetQuery(value))
      throw new UsageError(`--target ${TARGET_QUERY_PROBLEM} (got ${JSON.stringify(value)})`);
    return value;
  }

  @Option({ flags: '--limit <n>', description: `how many (default 20, at most ${MAX_LIST_LIMIT})` })
  parseLimit(value: string): number {
    return positiveInt('--limit')(value);
  }

  async run(_args: string[], options: TaskListOptions = {}): Promise<void> {
    this.ready.assert();
    const { tasks, total } = await this.tasks.list({
      status: options.status,
      pool: options.pool,
      target: options.target,
      limit: options.limit ?? 20,
    });
    this.emit(options, { tasks, total }, () =>
      tasks.length === 0
        ? 'no tasks match'
        : `${table(
            ['TASK', 'STATUS', 'PHASE', 'POOL', 'SCANNER', 'CREATED', 'NAME'],
            tasks.map((t) => [
              t.task_id,
              t.status,
              t.phase,
              t.scanner_pool,
              t.scanner_instance,
              t.created_at,
              t.name,
            ]),
          )}\n${tasks.length} of ${total}`,
    );
  }
}

@Command({ name: 'task', description: 'tasks', subCommands: [TaskShowCommand, TaskListCommand] })
export class TaskCommand extends CommandRunner {
  async run(): Promise<void> {
    throw new UsageError('task: name a subcommand (show, list)');
  }
}
