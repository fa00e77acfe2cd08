import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { AppConfig } from '../config/app-config';
import { AppError } from '../common/errors';
import { runWithTraceFields } from '../common/logging/trace-context';
import { ConsumerState } from '../queue/consumer-state';
import { DeadLetterStore } from '../queue/dead-letter.store';
import { AdvanceJobData, QueueName, ScanJob } from '../queue/queue-names';
import { ScanQueue, stepOf } from '../queue/scan-queue';
import { NessusError } from '../scanners/nessus/nessus-errors';
import { TERMINAL_STATUSES } from '../tasks/task';
import { TasksService } from '../tasks/tasks.service';
import { ScanPipeline } from './scan-pipeline.service';

/**
 * The scan-steps consumer: WORKER_CONCURRENCY jobs at once per process, each one short step. A job
 * enqueues its task's next step before it completes, so the chain survives a crash after either.
 */
@Injectable()
export class ScanStepProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ScanStepProcessor.name);

  constructor(
    @InjectQueue(QueueName.ScanSteps) private readonly queue: Queue<AdvanceJobData>,
    private readonly config: AppConfig,
    private readonly scanQueue: ScanQueue,
    private readonly pipeline: ScanPipeline,
    private readonly deadLetters: DeadLetterStore,
    private readonly tasks: TasksService,
    private readonly state: ConsumerState,
  ) {}

  onApplicationBootstrap(): void {
    // Queue events run outside any job context: bind the job's task and trace id so these lines carry them.
    this.queue.on('failed', (job, err) => void this.inJobContext(job, () => this.onFailed(job, err)));
    this.queue.on(
      'stalled',
      (job) =>
        void this.inJobContext(job, async () =>
          this.log.warn(`job ${job.id} stalled; another worker takes it over`),
        ),
    );
    this.queue.on('error', (err) => this.log.warn(`queue error: ${err.message}`));
    // process() resolves only when the queue closes, so it is not awaited.
    this.queue
      .process(ScanJob.Advance, this.config.pipeline.workerConcurrency, (job) => this.handle(job))
      .catch((err: Error) => this.state.markStopped(`consumer stopped: ${err.message}`));
    this.state.markRunning();
    this.log.log(
      `consuming ${QueueName.ScanSteps} with concurrency ${this.config.pipeline.workerConcurrency}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.state.markStopped('shutting down');
    // Stop taking jobs; the step in hand finishes (bounded by SHUTDOWN_TIMEOUT_SECONDS in main.ts).
    await this.queue.pause(true).catch(() => undefined);
  }

  private handle(job: Job<AdvanceJobData>): Promise<void> {
    const { taskId, traceId } = job.data;
    return this.inJobContext(job, async () => {
      if (!(await this.scanQueue.isCurrent(job))) {
        this.log.debug(`task ${taskId}: job ${job.id} is not the task's current step; skipped`);
        return;
      }
      this.log.debug(`task ${taskId}: step ${job.id}, attempt ${job.attemptsMade + 1}`);
      const outcome = await this.pipeline.advance(taskId, job.data.seq ?? 0, stepOf(job), job.data.seen);
      if (!outcome.next) return;
      const { chain } = job.data;
      const next = { taskId, traceId, seq: outcome.seq, chain };
      const stepKey = chain ? `${outcome.stepKey}:${chain}` : outcome.stepKey;
      if (outcome.watch) {
        const scan = { ...outcome.watch, ...next, stepKey };
        if (!(await this.scanQueue.watch(String(job.id), scan, outcome.delayMs))) {
          this.log.debug(`task ${taskId}: its chain ended during the poll (cancelled); not watched`);
        }
        return;
      }
      await this.scanQueue.advance(next, stepKey, outcome.delayMs);
    });
  }

  private inJobContext<T>(job: Job<AdvanceJobData>, fn: () => Promise<T>): Promise<T> {
    return runWithTraceFields({ task_id: job.data.taskId, trace_id: job.data.traceId }, fn);
  }

  private async onFailed(job: Job<AdvanceJobData>, err: Error): Promise<void> {
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade < attempts) {
      this.log.warn(
        `task ${job.data.taskId}: step failed (attempt ${job.attemptsMade} of ${attempts}); retried after a backoff: ${err.message}`,
      );
      return;
    }
    this.log.error(
      `task ${job.data.taskId}: step failed ${job.attemptsMade} times, moved to the dead-letter list: ${err.message}`,
    );
    const taskId = job.data.taskId;
    await this.deadLetters.add({
      task_id: taskId,
      job_id: String(job.id),
      error: err.message,
      attempts: job.attemptsMade,
      failed_at: new Date().toISOString(),
    });
    // The task keeps its state for an operator; its `error` tells whoever polls it why it stopped moving.
    // Only messages written for users reach the task; anything else stays in the worker's log.
    const cause =
      err instanceof AppError || err instanceof NessusError
        ? err.message
        : 'an internal error, see the worker log';
    const tries = `${job.attemptsMade} failed attempt${job.attemptsMade === 1 ? '' : 's'}`;
    const note = (phase: string) =>
      `its step in phase ${phase} gave up after ${tries} (${cause}); it waits on the dead-letter list ` +
      `until an operator retries it (npm run cli -- dlq retry ${taskId}) or purges it`;
    await this.tasks
      .mutate(taskId, (task) => (TERMINAL_STATUSES.has(task.status) ? null : { error: note(task.phase) }))
      .catch((e: Error) => this.log.warn(`task ${taskId}: dead-letter note not written: ${e.message}`));
  }
}
