import { Injectable, Logger } from '@nestjs/common';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { ConflictError, NotFoundError, ValidationError, whenStorageFull } from '../common/errors';
import { bindTraceFields } from '../common/logging/trace-context';
import { StillHeld, withRedisLock } from '../common/redis/redis-lock';
import { RedisService } from '../common/redis/redis.service';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { CredentialVault } from '../queue/credential-vault';
import type { SeenScan } from '../queue/queue-names';
import type { WatchedScan } from '../queue/watch-list';
import { WaitingLine } from '../queue/waiting-line';
import { NessusReportError } from '../results/ingest';
import { ResultsService } from '../results/results.service';
import { CapacityLeases, leaseTtlMs } from '../scanners/capacity-leases.store';
import { CircuitBreakers } from '../scanners/circuit-breakers';
import { NessusClients } from '../scanners/nessus-clients.service';
import { NessusError } from '../scanners/nessus/nessus-errors';
import type { NessusScanInfo } from '../scanners/nessus/nessus.client';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { Task, TERMINAL_STATUSES } from '../tasks/task';
import { TasksService } from '../tasks/tasks.service';
import { nessusScanName, ScanLifecycle } from '../scans/scan-lifecycle.service';
import { scanDeadlineMs, scanTimeoutError } from './scan-deadline';

/** A running scan the next poll step stands for, which the watchers can poll without a job. */
export type ScanToWatch = Omit<WatchedScan, 'taskId' | 'traceId' | 'stepKey' | 'seq' | 'chain'>;

/**
 * What the processor does after a step: run the task's next step after `delayMs`, or stop the chain.
 * `version` is the task version the next step starts from; `watch` marks a poll of a running scan.
 */
export type StepOutcome = NextStep | { next: false };
type NextStep = {
  next: true;
  delayMs: number;
  stepKey: string;
  seq: number;
  version?: number;
  watch?: ScanToWatch;
};

/**
 * The next step of a task. Its job id names the step, the task version it starts from and its place in
 * a poll or wait sequence, so the same next step enqueued twice is one job.
 */
function nextStep(step: string, version: number, delayMs = 0, seq = 0): NextStep {
  return { next: true, delayMs, stepKey: `${step}:v${version}:${seq}`, seq, version };
}

/** The progress a running scan's task shows: 100 only once its results are parsed. */
export function runningProgress(info: Pick<NessusScanInfo, 'progress'>): number {
  return Math.min(99, info.progress);
}

const WAIT_FOR_SCANNER_MS = [1000, 2000, 5000, 10_000];
const backoffMs = (seq: number) => WAIT_FOR_SCANNER_MS[Math.min(seq, WAIT_FOR_SCANNER_MS.length - 1)];
/** Renewed while a step runs; a worker killed mid-step holds its task no longer than this. */
const STEP_LOCK_TTL_MS = 15_000;
/** Bounds the steps one job runs back to back (a task being re-read after conflicts included). */
const MAX_INLINE_STEPS = 6;
/** A watcher's answer is used for this long at least, also with a poll interval of a second or two. */
const SEEN_MIN_USABLE_MS = 10_000;

/** What one run of a step knows besides the task. */
interface StepContext {
  seq: number;
  /**
   * This job's previous step wrote the task as it is now, holding the step lock throughout, so no other
   * step ran in between. Only admit moves a task to creating and only create to launching, so a fresh
   * create follows a task's first admission (no scan to adopt yet) and a fresh launch follows the create
   * of a scan that nothing launched (the task did not name it before).
   */
  fresh: boolean;
  /** What a watcher saw of the scan when it handed the poll back. */
  seen?: SeenScan;
  /** Whether this run still holds the task's step lock (polls run without one). */
  stillHeld?: StillHeld;
}

/**
 * Before creating or launching a Nessus scan: a run paused past its lock's TTL (a stalled process) may
 * have been overtaken by another worker's run of the same step, and must not act a second time.
 */
async function assertStillHeld(task: Task, stillHeld?: StillHeld): Promise<void> {
  if (stillHeld && !(await stillHeld())) {
    throw new ConflictError(`task ${task.task_id}: its step lock was lost; the step is not repeated`);
  }
}

/**
 * Advances one task by one short, idempotent step, deciding from its task file alone:
 * wait for capacity → create (adopting a scan of the same name) → launch (unless Nessus shows it
 * launched) → poll → export → parse → complete. Killing the process at any point loses nothing: the
 * next run of the step reads the same file and the same Nessus state.
 */
@Injectable()
export class ScanPipeline {
  private readonly log = new Logger(ScanPipeline.name);

  constructor(
    private readonly config: AppConfig,
    private readonly tasks: TasksService,
    private readonly registry: ScannerRegistry,
    private readonly leases: CapacityLeases,
    private readonly breakers: CircuitBreakers,
    private readonly clients: NessusClients,
    private readonly waiting: WaitingLine,
    private readonly vault: CredentialVault,
    private readonly results: ResultsService,
    private readonly idempotency: IdempotencyService,
    private readonly lifecycle: ScanLifecycle,
    private readonly redis: RedisService,
  ) {}

  get leaseTtlMs(): number {
    return leaseTtlMs(this.config.pipeline.pollIntervalSeconds);
  }

  /**
   * Keeps what an unfinished task holds from lapsing while it is tracked: its idempotency key and its
   * scanner lease. Every step renews them, and so does a watcher's poll of a running scan.
   */
  async keepHeld(
    taskId: string,
    idempotencyKeyHash: string | null,
    instanceId: string | null,
  ): Promise<void> {
    await this.idempotency.keepAlive(idempotencyKeyHash);
    if (instanceId) await this.leases.renew(instanceId, taskId, this.leaseTtlMs);
  }

  /**
   * Runs the task's next step (`step` names the job's step, e.g. `poll`). Steps hold the task's lock, so
   * one runs at a time across all workers: a stalled job that Bull hands to a second worker, or a
   * re-seeded chain racing the old one, waits instead of creating or launching a second Nessus scan. A
   * poll only reads Nessus and writes through the version check, so it runs without: it is most steps.
   * `seen` is what a watcher saw of the scan when it handed the poll back.
   */
  async advance(taskId: string, seq: number, step?: string, seen?: SeenScan): Promise<StepOutcome> {
    if (step === 'poll') {
      const task = await this.load(taskId);
      if (!task) return { next: false };
      if (task.phase === 'scanning' && !TERMINAL_STATUSES.has(task.status))
        return this.run(task, { seq, fresh: false, seen });
    }
    const lockKey = this.redis.key('lock', 'task', taskId);
    const held = await withRedisLock(this.redis.client, lockKey, STEP_LOCK_TTL_MS, (stillHeld) =>
      this.runWhileDue(taskId, seq, stillHeld),
    );
    if (held.acquired) return held.value;
    this.log.debug(`task ${taskId}: another worker is running its step; trying again shortly`);
    // Not a versioned key: the task may move on meanwhile, and each retry must be a new job.
    return { next: true, delayMs: backoffMs(seq), stepKey: `busy:${Date.now()}:${seq + 1}`, seq: seq + 1 };
  }

  /**
   * Runs steps one after another while the next is due at once (admit → create → launch, export →
   * parse): each is persisted before the next starts, as if it were its own job, without the queue round
   * trip. A step that waits (a poll, a full pool) ends the run and goes back to the queue.
   */
  private async runWhileDue(taskId: string, seq: number, stillHeld: StillHeld): Promise<StepOutcome> {
    // The task version this run's previous step wrote, if it wrote one (see `fresh` in step()).
    let writtenVersion = 0;
    // A lost lock ends the run: its next step goes back to the queue and waits for the lock there.
    let lost = false;
    const held: StillHeld = async () => {
      if (!(await stillHeld())) lost = true;
      return !lost;
    };
    for (let inline = 0; ; inline++) {
      const task = await this.load(taskId);
      if (!task) return { next: false };
      const outcome = await this.run(task, { seq, fresh: task.version === writtenVersion, stillHeld: held });
      writtenVersion = outcome.next && outcome.version === task.version + 1 ? outcome.version : 0;
      if (!outcome.next || outcome.delayMs > 0 || lost || inline >= MAX_INLINE_STEPS) return outcome;
      this.log.debug(`task ${taskId}: step ${taskId}:${outcome.stepKey} runs in the same job`);
      seq = outcome.seq;
    }
  }

  /** The task, or null (its job is dropped) when it has no task file. */
  private async load(taskId: string): Promise<Task | null> {
    try {
      return await this.tasks.get(taskId);
    } catch (err) {
      if (err instanceof NotFoundError) {
        this.log.warn(`task ${taskId} has no task file; dropping its job`);
        return null;
      }
      throw err;
    }
  }

  private async run(task: Task, ctx: StepContext): Promise<StepOutcome> {
    const taskId = task.task_id;
    bindTraceFields({ task_id: task.task_id, trace_id: task.trace_id });
    if (TERMINAL_STATUSES.has(task.status)) {
      await this.lifecycle.settle(task);
      return { next: false };
    }
    await this.keepHeld(task.task_id, task.idempotency_key_hash, task.scanner_instance);
    try {
      return await this.step(task, ctx);
    } catch (err) {
      if (err instanceof ConflictError) {
        // Someone else changed the task (a cancel, another worker): re-read it and go on from there.
        this.log.debug(`task ${taskId}: ${err.message}; re-reading`);
        return nextStep('reread', task.version, 0, ctx.seq + 1);
      }
      if (err instanceof NessusError && !err.transient) {
        return this.fail(task, `${err.message}`);
      }
      if (
        err instanceof ValidationError ||
        err instanceof NotFoundError ||
        err instanceof NessusReportError
      ) {
        return this.fail(task, err.message);
      }
      throw err;
    }
  }

  private step(task: Task, ctx: StepContext): Promise<StepOutcome> {
    switch (task.phase) {
      case 'waiting_for_scanner':
        return this.admit(task, ctx.seq);
      case 'creating':
        return this.create(task, ctx);
      case 'launching':
        return this.launch(task, ctx);
      case 'scanning':
        return this.poll(task, ctx.seq, ctx.seen);
      case 'exporting':
        return this.export(task);
      case 'parsing':
        return this.parse(task);
      case 'done':
        return Promise.resolve({ next: false });
    }
  }

  /** FIFO within the pool: only the first `free` waiting tasks may take a lease. */
  private async admit(task: Task, seq: number): Promise<StepOutcome> {
    const pool = task.scanner_pool;
    const wait = () => nextStep('admit', task.version, backoffMs(seq), seq + 1);
    await this.waiting.join(pool, task.task_id, Date.parse(task.created_at));
    if (!task.requested_instance) {
      const position = await this.waiting.position(pool, task.task_id);
      const free = await this.lifecycle.freeSlots(pool);
      if (position !== null && position > free) return wait();
    }
    const chosen = await this.registry.select(
      pool,
      task.requested_instance ?? undefined,
      task.task_id,
      this.leaseTtlMs,
    );
    if (!chosen) return wait();
    await this.tasks.update(task.task_id, task.version, {
      phase: 'creating',
      scanner_instance: chosen.instanceId,
    });
    await this.waiting.leave(pool, task.task_id);
    this.log.log(`task ${task.task_id} admitted to ${chosen.instanceId}`);
    return nextStep('create', task.version + 1);
  }

  private async create(task: Task, { fresh, stillHeld }: StepContext): Promise<StepOutcome> {
    const instanceId = task.scanner_instance!;
    const client = this.clients.client(instanceId);
    const name = nessusScanName(task.task_id);
    // A crash after Nessus created the scan but before we saved its id: adopt it, never create twice.
    // Listing every scan the Nessus keeps is skipped when no create step can have run before.
    const existing = fresh
      ? null
      : await this.breakers.execute(instanceId, () => client.findScanByName(name));
    let scanId = existing?.id;
    if (existing)
      this.log.log(`task ${task.task_id}: adopted Nessus scan ${existing.id}, created by an earlier try`);
    const creating = scanId === undefined;
    if (scanId === undefined) {
      await assertStillHeld(task, stillHeld);
      const credentials = task.scan_type === 'untrusted' ? undefined : await this.vault.get(task.task_id);
      if (task.scan_type !== 'untrusted' && !credentials) {
        return this.fail(
          task,
          'the scan credentials are no longer available (expired or lost); submit the scan again',
        );
      }
      scanId = await this.breakers.execute(instanceId, () =>
        client.createScan({
          name,
          description: task.description ?? undefined,
          targets: task.resolved_targets,
          credentials: credentials ?? undefined,
        }),
      );
    }
    try {
      await this.tasks.update(task.task_id, task.version, { nessus_scan_id: scanId, phase: 'launching' });
    } catch (err) {
      if (creating) await this.dropIfUnclaimed(task, scanId);
      throw err;
    }
    // The Nessus scan now holds the credentials; they leave Redis at once.
    await this.vault.discard(task.task_id);
    return nextStep('launch', task.version + 1);
  }

  private async launch(task: Task, { fresh, stillHeld }: StepContext): Promise<StepOutcome> {
    const instanceId = task.scanner_instance!;
    const client = this.clients.client(instanceId);
    const scanId = task.nessus_scan_id!;
    // A crash after launch but before we saved it: Nessus already shows the run, so don't launch again.
    const launched =
      !fresh && (await this.breakers.execute(instanceId, () => client.getScan(scanId))).launched;
    if (!launched) {
      await assertStillHeld(task, stillHeld);
      await this.breakers.execute(instanceId, () => client.launchScan(scanId));
    }
    const running = await this.tasks.update(task.task_id, task.version, {
      status: 'running',
      phase: 'scanning',
      launched_at: new Date().toISOString(),
    });
    return this.nextPoll(running, 0);
  }

  private async poll(task: Task, seq: number, seen?: SeenScan): Promise<StepOutcome> {
    const instanceId = task.scanner_instance!;
    const scanId = task.nessus_scan_id!;
    if (Date.now() > this.deadlineMs(task)) {
      await this.lifecycle.stopQuietly(task);
      await this.tasks.update(task.task_id, task.version, {
        status: 'timeout',
        error: scanTimeoutError(this.config.pipeline.scanTimeoutSeconds),
      });
      return this.settleAfterWrite(task.task_id);
    }
    // A watcher's answer from within the interval (10 s at least) is as good as asking again.
    const usableMs = Math.max(this.pollDelayMs(), SEEN_MIN_USABLE_MS);
    let info: Omit<SeenScan, 'atMs'> | undefined =
      seen && Date.now() - seen.atMs < usableMs ? seen : undefined;
    try {
      const client = this.clients.client(instanceId);
      info ??= await this.breakers.execute(instanceId, () =>
        client.getScan(scanId, task.resolved_targets.length),
      );
    } catch (err) {
      // A running scan outlives a scanner hiccup: keep polling; the timeout bounds how long.
      if (isTransient(err)) {
        this.log.warn(`task ${task.task_id}: poll failed (${(err as Error).message}); will poll again`);
        return this.nextPoll(task, seq + 1);
      }
      throw err;
    }
    switch (info.state) {
      case 'completed':
        await this.tasks.update(task.task_id, task.version, { phase: 'exporting', progress: 100 });
        return nextStep('export', task.version + 1);
      case 'canceled':
      case 'aborted':
        return this.fail(task, `the scan ended on Nessus as "${info.nessusStatus}" (not by this service)`);
      default:
        if (runningProgress(info) !== task.progress) {
          const updated = await this.tasks.update(task.task_id, task.version, {
            progress: runningProgress(info),
          });
          return this.nextPoll(updated, seq + 1);
        }
        return this.nextPoll(task, seq + 1);
    }
  }

  private async export(task: Task): Promise<StepOutcome> {
    const instanceId = task.scanner_instance!;
    const client = this.clients.client(instanceId);
    const dest = join(this.tasks.taskDir(task.task_id), 'scan.nessus');
    await this.breakers.execute(instanceId, () => client.exportNessus(task.nessus_scan_id!, dest));
    await this.tasks.update(task.task_id, task.version, { phase: 'parsing' });
    return nextStep('parse', task.version + 1);
  }

  private async parse(task: Task): Promise<StepOutcome> {
    const dir = this.tasks.taskDir(task.task_id);
    const parsed = await this.results
      .ingest(join(dir, 'scan.nessus'), dir, { scanType: task.scan_type })
      .catch((err) => {
        throw whenStorageFull(err, `the results of task ${task.task_id}`);
      });
    await this.tasks.update(task.task_id, task.version, {
      status: 'completed',
      phase: 'done',
      progress: 100,
      results_summary: parsed.results_summary,
      authentication_status: parsed.authentication_status,
    });
    await this.lifecycle.recordDuration(task);
    return this.settleAfterWrite(task.task_id);
  }

  /**
   * A scan this step created that its task does not name after all (another run of the step wrote first,
   * or the write failed and the step is retried) is deleted, so no scan is left that nothing tracks.
   */
  private async dropIfUnclaimed(task: Task, scanId: number): Promise<void> {
    try {
      const current = await this.tasks.find(task.task_id);
      if (current?.nessus_scan_id === scanId) return;
      await this.clients.client(task.scanner_instance!).deleteScan(scanId);
      this.log.warn(
        `task ${task.task_id}: deleted Nessus scan ${scanId}, created by a step that lost its race`,
      );
    } catch (err) {
      this.log.warn(
        `task ${task.task_id}: Nessus scan ${scanId} on ${task.scanner_instance} is not the task's and could not be deleted; delete it by hand: ${(err as Error).message}`,
      );
    }
  }

  private async fail(task: Task, error: string): Promise<StepOutcome> {
    this.log.warn(`task ${task.task_id} failed: ${error}`);
    await this.tasks.update(task.task_id, task.version, { status: 'failed', error });
    return this.settleAfterWrite(task.task_id);
  }

  private async settleAfterWrite(taskId: string): Promise<StepOutcome> {
    await this.lifecycle.settle(await this.tasks.get(taskId));
    return { next: false };
  }

  /** The next poll of a running scan, one interval on; the watchers run it unless something changed. */
  private nextPoll(task: Task, seq: number): StepOutcome {
    return {
      ...nextStep('poll', task.version, this.pollDelayMs(), seq),
      watch: {
        instanceId: task.scanner_instance!,
        scanId: task.nessus_scan_id!,
        hosts: task.resolved_targets.length,
        progress: task.progress,
        deadlineMs: this.deadlineMs(task),
        idempotencyKeyHash: task.idempotency_key_hash,
      },
    };
  }

  private deadlineMs(task: Task): number {
    return scanDeadlineMs(task, this.config.pipeline.scanTimeoutSeconds);
  }

  private pollDelayMs(): number {
    return this.config.pipeline.pollIntervalSeconds * 1000;
  }
}

/** A Nessus error that may pass (network, 5xx, an open circuit): a running scan is polled again. */
export function isTransient(err: unknown): boolean {
  return (
    (err as { transient?: unknown })?.transient === true || (err as Error)?.name === 'BrokenCircuitError'
  );
}
