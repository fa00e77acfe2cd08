import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Job, JobStatus, Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import { RedisService } from '../common/redis/redis.service';
import { UnavailableError } from '../common/errors';
import { AdvanceJobData, QueueName, ScanJob, SeenScan } from './queue-names';
import { WatchedScan, WatchList } from './watch-list';

const CHAIN_TTL_SECONDS = 30 * 86400;
/** First part of the chain pointer of a watched scan: `<task id>:watch:<poll step key>`. */
const WATCH_STEP = 'watch';
const LIVE_STATES = new Set<JobStatus | 'stuck'>(['waiting', 'delayed', 'active', 'paused']);

/** Job id of one step of a task: `<task id>:<step key>` (task ids hold no ':'). */
export function stepJobId(taskId: string, stepKey: string): string {
  return `${taskId}:${stepKey}`;
}

/** The step a job runs (`admit`, `poll`, `busy`…): the first part of its step key. */
export function stepOf(job: Job<AdvanceJobData>): string {
  return String(job.id)
    .slice(job.data.taskId.length + 1)
    .split(':')[0];
}

/** What a caller gets when Redis refused a chain write: a 503 asking to retry. */
function queueUnavailable(err: unknown): UnavailableError {
  return new UnavailableError(`the queue is unavailable (${(err as Error).message}); retry shortly`);
}

/**
 * Producer for the scan-steps queue. Each task has one live chain of advance jobs: the id of its current
 * job is kept in Redis, and a job whose id is not the task's current one stops (so a reconciler re-seed
 * racing a live chain can never leave two chains polling one scan).
 */
@Injectable()
export class ScanQueue {
  constructor(
    @InjectQueue(QueueName.ScanSteps) readonly queue: Queue<AdvanceJobData>,
    private readonly redis: RedisService,
    private readonly watchList: WatchList,
  ) {}

  private chainKey(taskId: string): string {
    return this.redis.key('chain', taskId);
  }

  /**
   * Enqueues the next step of a task. `stepKey` (e.g. `admit`, `poll:v7:3`) makes the job id
   * deterministic: a duplicate enqueue of the same step is a no-op.
   */
  async advance(data: AdvanceJobData, stepKey: string, delayMs = 0): Promise<string> {
    const jobId = stepJobId(data.taskId, stepKey);
    try {
      // Pointer first: if we crash before add(), the reconciler finds no live job and re-seeds.
      await this.redis.client.set(this.chainKey(data.taskId), jobId, 'EX', CHAIN_TTL_SECONDS);
      await this.addStep(data, jobId, delayMs);
    } catch (err) {
      throw queueUnavailable(err);
    }
    return jobId;
  }

  /**
   * Starts a task's chain with `stepKey` unless it already has one (false then): concurrent or retried
   * submissions never move the pointer of a chain that has gone on to later steps.
   */
  async seed(data: AdvanceJobData, stepKey: string): Promise<boolean> {
    const jobId = stepJobId(data.taskId, stepKey);
    try {
      const key = this.chainKey(data.taskId);
      const claimed = await this.redis.client.set(key, jobId, 'EX', CHAIN_TTL_SECONDS, 'NX');
      // Our own pointer from an earlier try that crashed before add(): adding again is a no-op or the fix.
      if (claimed !== 'OK' && (await this.redis.client.get(key)) !== jobId) return false;
      await this.addStep(data, jobId, 0);
    } catch (err) {
      throw queueUnavailable(err);
    }
    return true;
  }

  /**
   * Starts a new chain for the task (`reason`: wake, reconcile, dlq-retry) that takes over from any
   * other: its job ids are its own, never those of an earlier chain's finished jobs.
   */
  restart(task: { taskId: string; traceId: string }, reason: string): Promise<string> {
    const chain = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    return this.advance({ ...task, seq: 0, chain }, `${reason}:${chain}`);
  }

  /**
   * Hands the task's next poll (`scan.stepKey`, due in `delayMs`) to the watchers while the chain is
   * still `jobId`'s: the pointer then names the watch. False when a cancel or settle forgot the chain.
   */
  async watch(jobId: string, scan: WatchedScan, delayMs: number): Promise<boolean> {
    const pointer = stepJobId(scan.taskId, `${WATCH_STEP}:${scan.stepKey}`);
    try {
      return await this.watchList.park(
        this.chainKey(scan.taskId),
        jobId,
        pointer,
        scan,
        delayMs,
        CHAIN_TTL_SECONDS,
      );
    } catch (err) {
      throw queueUnavailable(err);
    }
  }

  /**
   * Turns a watched scan back into its poll step, due now, with what the watcher `seen` of it if it
   * asked Nessus; false when someone else already did.
   */
  async unwatch(scan: WatchedScan, seen?: SeenScan): Promise<boolean> {
    if (!(await this.watchList.release(scan.taskId))) return false;
    const { taskId, traceId, seq, chain } = scan;
    await this.advance({ taskId, traceId, seq, chain, seen }, scan.stepKey);
    return true;
  }

  private async addStep(data: AdvanceJobData, jobId: string, delayMs: number): Promise<void> {
    await this.queue.add(ScanJob.Advance, data, {
      jobId,
      delay: Math.max(0, delayMs),
      attempts: 8,
      backoff: { type: 'exponential', delay: 2000 },
    });
  }

  /** True when `job` is its task's current chain (or the task has no recorded chain). */
  async isCurrent(job: Job<AdvanceJobData>): Promise<boolean> {
    const current = await this.chainPointer(job.data.taskId);
    return current === null || current === String(job.id);
  }

  /** Id of the task's current chain job, or null when none is recorded. */
  chainPointer(taskId: string): Promise<string | null> {
    return this.redis.client.get(this.chainKey(taskId));
  }

  /**
   * The task's chain pointer, and whether what it names will run: a job in a state that will, or a
   * watch that is still in the watch list.
   */
  async chainStatus(taskId: string): Promise<{ pointer: string | null; live: boolean }> {
    const pointer = await this.chainPointer(taskId);
    if (pointer?.startsWith(stepJobId(taskId, `${WATCH_STEP}:`))) {
      return { pointer, live: await this.watchList.isWatched(taskId) };
    }
    const job = pointer ? await this.queue.getJob(pointer) : null;
    return { pointer, live: job !== null && LIVE_STATES.has(await job.getState()) };
  }

  async forgetChain(taskId: string): Promise<void> {
    await this.redis.client.del(this.chainKey(taskId));
    await this.watchList.release(taskId);
  }

  async counts(): Promise<{
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    completed: number;
    watched: number;
  }> {
    const c = await this.queue.getJobCounts();
    return {
      watched: await this.watchList.size(),
      waiting: c.waiting,
      active: c.active,
      delayed: c.delayed,
      failed: c.failed,
      completed: c.completed,
    };
  }
}
