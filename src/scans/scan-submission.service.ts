import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ForbiddenTargetError, QuotaExceededError, ValidationError } from '../common/errors';
import { bindTraceFields } from '../common/logging/trace-context';
import { fingerprintSubmission } from '../idempotency/fingerprint';
import { resolveIdempotencyKey } from '../idempotency/idempotency-key';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { restorableKey, RestoredKey } from '../idempotency/restorable-key';
import { CredentialVault, ScanCredentials } from '../queue/credential-vault';
import { ScanQueue, stepJobId } from '../queue/scan-queue';
import { WaitingLine } from '../queue/waiting-line';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { splitTargets, TargetPolicy } from '../security/target-policy';
import { SchemaProfile, ScanType, Task, TERMINAL_STATUSES } from '../tasks/task';
import { newTaskId } from '../tasks/task-id';
import { newTask } from '../tasks/task-state-machine';
import { StaleVersionError } from '../tasks/task.store';
import { TasksService } from '../tasks/tasks.service';
import { ActiveTaskQuota } from './active-task-quota';
import { ScanLifecycle } from './scan-lifecycle.service';

/** First step of every task's chain; its job id is `<task_id>:admit`. */
const SEED_STEP = 'admit';

/** Arguments of run_untrusted_scan (SPEC §5); shapes are checked by the transport before this. */
export interface UntrustedScanRequest {
  targets: string | string[];
  name: string;
  description?: string | null;
  schema_profile?: SchemaProfile;
  idempotency_key?: string | null;
  scanner_pool?: string | null;
  scanner_instance?: string | null;
}

/** Arguments of run_authenticated_scan. */
export interface AuthenticatedScanRequest extends UntrustedScanRequest {
  scan_type: Exclude<ScanType, 'untrusted'>;
  ssh_username: string;
  ssh_password?: string;
  ssh_private_key?: string;
  elevate_privileges_with?: 'Nothing' | 'sudo' | 'su';
  escalation_account?: string;
  escalation_password?: string;
}

/** Who is calling and how: the API key identity, the trace id and the idempotency key headers. */
export interface CallerContext {
  clientId: string;
  traceId: string;
  idempotencyHeader?: string | string[];
  xIdempotencyHeader?: string | string[];
}

export interface SubmitResponse {
  task_id: string;
  trace_id: string;
  status: Task['status'];
  scanner_pool: string;
  scanner_instance: string | null;
  queue_position: number | null;
  estimated_wait_minutes: number;
  idempotent_replay: boolean;
  message: string;
}

/**
 * Submits scans for REST and MCP alike: validate, check targets, claim the idempotency key, write the
 * task, enqueue. Each step after the claim is repeatable, so a retry after a crash anywhere finishes
 * the same task instead of creating another.
 */
@Injectable()
export class ScanSubmissionService {
  private readonly log = new Logger(ScanSubmissionService.name);
  private readonly policy: TargetPolicy;

  constructor(
    private readonly config: AppConfig,
    private readonly registry: ScannerRegistry,
    private readonly idempotency: IdempotencyService,
    private readonly tasks: TasksService,
    private readonly queue: ScanQueue,
    private readonly waiting: WaitingLine,
    private readonly vault: CredentialVault,
    private readonly lifecycle: ScanLifecycle,
    private readonly quota: ActiveTaskQuota,
  ) {
    this.policy = new TargetPolicy({
      allow: config.security.targetAllow,
      deny: config.security.targetDeny,
      maxAddresses: config.security.maxTargetAddresses,
    });
  }

  submitUntrusted(req: UntrustedScanRequest, ctx: CallerContext): Promise<SubmitResponse> {
    return this.submit(req, 'untrusted', undefined, ctx);
  }

  submitAuthenticated(req: AuthenticatedScanRequest, ctx: CallerContext): Promise<SubmitResponse> {
    return this.submit(req, req.scan_type, credentialsOf(req), ctx);
  }

  private async submit(
    req: UntrustedScanRequest | AuthenticatedScanRequest,
    scanType: ScanType,
    credentials: ScanCredentials | undefined,
    ctx: CallerContext,
  ): Promise<SubmitResponse> {
    // Everything that can refuse the request runs before the key is claimed, so a refusal doesn't use it up.
    const key = resolveIdempotencyKey({
      header: ctx.idempotencyHeader,
      xHeader: ctx.xIdempotencyHeader,
      argument: req.idempotency_key ?? null,
    });
    const snapshot = this.registry.snapshot();
    const pool = req.scanner_pool ?? snapshot.defaultPool;
    this.registry.assertRoutable(pool, req.scanner_instance ?? undefined);
    const targets = splitTargets(req.targets);
    if (targets.length === 0) throw ValidationError.forFields({ targets: 'at least one target is required' });
    const checked = await this.policy.check(targets).catch((err: unknown) => {
      // The audit trail of refused targets: over MCP a refusal is a tool result, with no error line of its own.
      if (err instanceof ForbiddenTargetError) {
        this.log.warn(
          `refused target ${JSON.stringify(err.target.slice(0, 256))} of client ${ctx.clientId}: ${err.rule}`,
        );
      }
      throw err;
    });
    const fingerprint = fingerprintSubmission(
      {
        kind: scanType === 'untrusted' ? 'untrusted' : 'authenticated',
        ...req,
        scan_type: scanType,
        targets,
      },
      { scanner_pool: snapshot.defaultPool },
    );

    const claim = await this.idempotency.begin(
      { clientId: ctx.clientId, key, fingerprint, newTaskId: newTaskId() },
      () => this.storedKeys(),
    );
    const taskId = claim.taskId;
    bindTraceFields({ task_id: taskId });
    try {
      // A fresh claim names a task id made just now: only a replay can find its task stored.
      let task = claim.replay ? await this.tasks.find(taskId) : null;
      if (!task) {
        if (!(await this.quota.reserve(ctx.clientId, taskId))) throw this.overQuota(ctx.clientId);
        task = newTask({
          task_id: taskId,
          name: req.name,
          description: req.description ?? null,
          targets: checked.targets,
          resolved_targets: checked.nessusTargets,
          scan_type: scanType,
          schema_profile: req.schema_profile ?? 'brief',
          scanner_pool: pool,
          requested_instance: req.scanner_instance ?? null,
          trace_id: ctx.traceId,
          client_id: ctx.clientId,
          idempotency_key_hash: claim.keyHash,
          idempotency_fingerprint: claim.keyHash ? fingerprint : null,
        });
        // A concurrent replay may have stored it first: answer with the stored one.
        if ((await this.tasks.create(task)) === 'exists') task = (await this.tasks.find(taskId)) ?? task;
      }
      // A replay finishes only a submission that never got past its seed (no chain, or only the seed's
      // pointer): a chain that went on belongs to the worker, and re-seeding it would stall or duplicate it.
      const unfinished = !TERMINAL_STATUSES.has(task.status) && task.phase === 'waiting_for_scanner';
      const pointer = unfinished && claim.replay ? await this.queue.chainPointer(taskId) : null;
      if (unfinished && (pointer === null || pointer === stepJobId(taskId, SEED_STEP))) {
        if (credentials) await this.vault.put(taskId, credentials);
        await this.waiting.join(pool, taskId, Date.parse(task.created_at));
        await this.queue.seed({ taskId, traceId: task.trace_id, seq: 0 }, SEED_STEP);
        // A concurrent identical request may have seeded it first, and its admit step already left the line.
        if (claim.replay && (await this.tasks.find(taskId))?.phase !== 'waiting_for_scanner') {
          await this.waiting.leave(pool, taskId);
        }
      }
      return await this.respond(task, claim.replay);
    } catch (err) {
      // The caller hears that this failed: free the key for a retry only once nothing of it can still run.
      if (!claim.replay && (await this.withdraw(taskId, ctx.clientId, err as Error))) {
        await this.idempotency.abandon(claim.keyHash, taskId);
      }
      throw err;
    }
  }

  /**
   * After a failed first submission: a task file it stored would otherwise be started by the reconciler
   * beside the task a retry creates, so it is failed (while still untouched at version 1). False when it
   * could not be (a worker already took it, or the write failed): the key then keeps naming it.
   */
  private async withdraw(taskId: string, clientId: string, cause: Error): Promise<boolean> {
    try {
      const stored = await this.tasks.find(taskId);
      if (!stored) {
        // Redis down: the reconciler frees the place later.
        await this.quota.release(clientId, taskId).catch(() => undefined);
        return true;
      }
      const failed = await this.tasks.update(taskId, 1, {
        status: 'failed',
        error: `the scan could not be queued (${cause.message}); submit it again`,
        // The key is released for the retry: a restore after Redis lost its data must not bring it back.
        idempotency_key_hash: null,
        idempotency_fingerprint: null,
      });
      // With Redis still down the reconciler removes the waiting-line entry later; credentials expire.
      await this.lifecycle.settle(failed).catch(() => undefined);
      return true;
    } catch (err) {
      const why = err instanceof StaleVersionError ? 'a worker has taken it already' : (err as Error).message;
      this.log.warn(
        `task ${taskId}: the submission failed but its task stays (${why}); a retry with its key gets it back`,
      );
      return false;
    }
  }

  /** The idempotency keys the stored tasks hold, for putting them back after Redis lost its data. */
  private async *storedKeys(): AsyncIterable<RestoredKey[]> {
    const now = Date.now();
    const skipped = (id: string, err: Error) =>
      this.log.warn(`task ${id}: its idempotency key is not restored (${err.message})`);
    for await (const tasks of this.tasks.store.batches(skipped)) {
      yield tasks
        .map((task) => restorableKey(task, this.config.idempotency.ttlSeconds, now))
        .filter((key): key is RestoredKey => key !== null);
    }
  }

  private overQuota(clientId: string): QuotaExceededError {
    this.log.warn(
      `refused a submission of client ${clientId}: at MAX_ACTIVE_TASKS_PER_CLIENT (${this.quota.cap})`,
    );
    return new QuotaExceededError(
      `client ${clientId} has ${this.quota.cap} queued or running tasks, the most MAX_ACTIVE_TASKS_PER_CLIENT allows; ` +
        'submit again when some have finished, or cancel some',
      // A running task's end is seen at its next poll at the earliest.
      this.config.pipeline.pollIntervalSeconds,
    );
  }

  private async respond(task: Task, replay: boolean): Promise<SubmitResponse> {
    const position =
      task.phase === 'waiting_for_scanner'
        ? await this.waiting.position(task.scanner_pool, task.task_id)
        : null;
    const wait = await this.lifecycle.estimateWaitMinutes(task.scanner_pool, position);
    const where = task.requested_instance
      ? `${task.scanner_pool}/${task.requested_instance}`
      : `pool ${task.scanner_pool}`;
    const message = replay
      ? `Idempotent replay: this request was already submitted as task ${task.task_id} (status ${task.status}).`
      : `Scan queued on ${where}${position ? ` at position ${position}` : ''}. Poll get_scan_status with task_id ${task.task_id} until it is completed, then call get_scan_results.`;
    this.log.log(`task ${task.task_id} ${replay ? 'replayed' : 'submitted'} to pool ${task.scanner_pool}`);
    return {
      task_id: task.task_id,
      trace_id: task.trace_id,
      status: task.status,
      scanner_pool: task.scanner_pool,
      scanner_instance: task.scanner_instance ?? task.requested_instance,
      queue_position: position,
      estimated_wait_minutes: wait,
      idempotent_replay: replay,
      message,
    };
  }
}

function credentialsOf(req: AuthenticatedScanRequest): ScanCredentials {
  const fields: Record<string, string> = {};
  if (!req.ssh_username?.trim()) fields.ssh_username = 'is required for an authenticated scan';
  if (!req.ssh_password && !req.ssh_private_key) fields.ssh_password = 'give ssh_password or ssh_private_key';
  const elevate = req.elevate_privileges_with ?? 'Nothing';
  if (req.scan_type === 'authenticated_privileged' && elevate === 'Nothing') {
    fields.elevate_privileges_with = 'must be sudo or su for scan_type authenticated_privileged';
  }
  if (elevate === 'su' && !req.escalation_password) {
    fields.escalation_password = 'is required when elevate_privileges_with is su';
  }
  if (Object.keys(fields).length) throw ValidationError.forFields(fields);
  return {
    username: req.ssh_username,
    password: req.ssh_password,
    privateKey: req.ssh_private_key,
    elevatePrivilegesWith: elevate,
    escalationAccount: req.escalation_account,
    escalationPassword: req.escalation_password,
  };
}
