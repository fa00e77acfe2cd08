import { Injectable, Logger } from '@nestjs/common';
import { AppError, ConflictError, UnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { scopedKeyHash } from './idempotency-key';
import { IdempotencyStore } from './idempotency.store';
import { RestoredKey } from './restorable-key';

/** The keys stored tasks hold, in batches (a walk of the task files). */
export type RestorableKeys = () => AsyncIterable<RestoredKey[]>;

/** How long a claim waits for the keys to be restored before it answers 503. */
const RESTORE_WAIT_MS = 5_000;
const RESTORING =
  'idempotency keys are being restored from the task files (Redis lost them); retry the request with the same key shortly';

/** What a submission proceeds with after the idempotency claim. */
export interface IdempotencyBegin {
  /** Scoped hash to store on the task (null when the caller sent no key). */
  keyHash: string | null;
  /** The task id to write and enqueue: newTaskId when claimed, the original one on a replay. */
  taskId: string;
  /** True when the key was already claimed by an identical request. */
  replay: boolean;
}

/**
 * Transport-agnostic idempotency for submissions (REST and MCP alike): claim first, then the caller
 * writes the task and enqueues, each step repeatable, so a replay (even after a crash between claim and
 * enqueue) can finish the same task instead of pointing at one that never came to be.
 */
@Injectable()
export class IdempotencyService {
  private readonly log = new Logger(IdempotencyService.name);
  private restoring: Promise<void> | null = null;

  constructor(
    private readonly store: IdempotencyStore,
    private readonly config: AppConfig,
  ) {}

  /**
   * Claims the caller's key. Once Redis has lost its data no key can be claimed until the keys of the
   * stored tasks (`restorable`) are back, or a replay would start a second scan.
   */
  async begin(
    params: {
      clientId: string;
      key: string | null;
      fingerprint: string;
      newTaskId: string;
    },
    restorable: RestorableKeys,
  ): Promise<IdempotencyBegin> {
    if (params.key === null) return { keyHash: null, taskId: params.newTaskId, replay: false };
    const keyHash = scopedKeyHash(params.clientId, params.key);
    const claimKey = () =>
      this.storeCall(() =>
        this.store.claim(keyHash, params.fingerprint, params.newTaskId, this.config.idempotency.ttlSeconds),
      );
    let claim = await claimKey();
    if (claim.outcome === 'unrestored') {
      await this.storeCall(() => this.restored(restorable));
      claim = await claimKey();
    }
    if (claim.outcome === 'unrestored') throw new UnavailableError(RESTORING);
    if (claim.outcome === 'mismatch') {
      throw new ConflictError(
        `Idempotency-Key was already used with a different request (task ${claim.taskId}); use a new key for a different scan`,
      );
    }
    return { keyHash, taskId: claim.taskId, replay: claim.outcome === 'replay' };
  }

  /** Extends the key's life; called on every step of a running task and at its terminal state. Best effort. */
  async keepAlive(keyHash: string | null): Promise<void> {
    if (keyHash === null) return;
    try {
      await this.store.touch(keyHash, this.config.idempotency.ttlSeconds);
    } catch (err) {
      // A missed extension only shortens the replay window; failing the scan step for it would be worse.
      this.log.warn(`could not extend idempotency key ${keyHash}: ${(err as Error).message}`);
    }
  }

  /** Frees the key after a submission failed past the claim, so a corrected retry may use it. Best effort. */
  async abandon(keyHash: string | null, taskId: string): Promise<void> {
    if (keyHash === null) return;
    try {
      await this.store.release(keyHash, taskId);
    } catch (err) {
      // If this fails, a retry with the same request replays taskId and redoes the repeatable steps.
      this.log.warn(`could not release idempotency key ${keyHash}: ${(err as Error).message}`);
    }
  }

  /** Waits (a while) for the keys to be restored; this process walks the task files unless another does. */
  private async restored(restorable: RestorableKeys): Promise<void> {
    this.restoring ??= this.restore(restorable).finally(() => (this.restoring = null));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, RESTORE_WAIT_MS)));
    try {
      await Promise.race([this.restoring, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async restore(restorable: RestorableKeys): Promise<void> {
    while (!(await this.store.isRestored())) {
      const walked = await this.store.whileRestoring(async () => {
        let count = 0;
        for await (const keys of restorable()) {
          await this.store.restore(keys);
          count += keys.length;
        }
        await this.store.markRestored();
        this.log.log(`restored ${count} idempotency key(s) from the task files`);
      });
      if (!walked) await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new UnavailableError(
        'idempotency store (Redis) is unavailable; retry the request with the same key',
      );
    }
  }
}
