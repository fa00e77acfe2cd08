import { Injectable, Logger } from '@nestjs/common';
import { AppError, ConflictError, UnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { scopedKeyHash } from './idempotency-key';
import { IdempotencyStore } from './idempotency.store';

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

  constructor(
    private readonly store: IdempotencyStore,
    private readonly config: AppConfig,
  ) {}

  async begin(params: {
    clientId: string;
    key: string | null;
    fingerprint: string;
    newTaskId: string;
  }): Promise<IdempotencyBegin> {
    if (params.key === null) return { keyHash: null, taskId: params.newTaskId, replay: false };
    const keyHash = scopedKeyHash(params.clientId, params.key);
    const claim = await this.storeCall(() =>
      this.store.claim(keyHash, params.fingerprint, params.newTaskId, this.config.idempotency.ttlSeconds),
    );
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
