import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { withRedisLock } from '../common/redis/redis-lock';
import { RedisService } from '../common/redis/redis.service';
import { IdempotencyRecord, RestoredKey } from './restorable-key';

/**
 * Result of claiming a key: first caller claims; identical callers replay; a different request is a
 * mismatch. 'unrestored': the store lost its keys (or never had them restored) and nothing can be
 * claimed until restore() has put back the keys the task files name.
 */
export type ClaimResult =
  | { outcome: 'claimed'; taskId: string }
  | { outcome: 'replay'; taskId: string }
  | { outcome: 'mismatch'; taskId: string }
  | { outcome: 'unrestored' };

/**
 * Port: remembers which task a (client-scoped, hashed) idempotency key created, and with which
 * request fingerprint. Every operation is atomic, so concurrent callers in any number of processes
 * agree on one task id.
 */
export abstract class IdempotencyStore {
  /** Atomically claims `keyHash` for `taskId` unless already claimed; returns the owning task id either way. */
  abstract claim(
    keyHash: string,
    fingerprint: string,
    taskId: string,
    ttlSeconds: number,
  ): Promise<ClaimResult>;
  abstract get(keyHash: string): Promise<IdempotencyRecord | null>;
  /** Restarts the expiry at `ttlSeconds` from now; a key that no longer exists stays absent. */
  abstract touch(keyHash: string, ttlSeconds: number): Promise<void>;
  /** Deletes the key only while it still belongs to `taskId`. */
  abstract release(keyHash: string, taskId: string): Promise<void>;
  /** Puts back keys that are absent (a key claimed meanwhile is left as it is). */
  abstract restore(keys: RestoredKey[]): Promise<void>;
  /** True once every stored task's key was restored since the store last lost its data. */
  abstract isRestored(): Promise<boolean>;
  /** Lets claims through again; called after restore() has seen every task. */
  abstract markRestored(): Promise<void>;
  /** Runs `fn` unless another process is restoring the keys (then false at once). */
  abstract whileRestoring(fn: () => Promise<void>): Promise<boolean>;
}

// Claim in one step: create-with-expiry when absent, otherwise compare fingerprints. Returns {outcome, taskId}.
// Without the restored marker (KEYS[2]) Redis lost its data: a fresh claim could duplicate a stored task.
const CLAIM_LUA = `
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {'unrestored', ''}
end
local rec = redis.call('HMGET', KEYS[1], 'task_id', 'fp')
if not rec[1] then
  redis.call('HSET', KEYS[1], 'task_id', ARGV[2], 'fp', ARGV[1], 'created_at', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {'claimed', ARGV[2]}
end
if rec[2] == ARGV[1] then
  return {'replay', rec[1]}
end
return {'mismatch', rec[1]}
`;

const RELEASE_LUA = `
if redis.call('HGET', KEYS[1], 'task_id') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

const RESTORE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'task_id', ARGV[1], 'fp', ARGV[2], 'created_at', ARGV[4])
return redis.call('EXPIRE', KEYS[1], ARGV[3])
`;

interface IdempotencyCommands {
  nmgIdemClaim(
    key: string,
    restoredKey: string,
    fingerprint: string,
    taskId: string,
    ttl: number,
    createdAt: string,
  ): Promise<[string, string]>;
  nmgIdemRelease(key: string, taskId: string): Promise<number>;
}

interface IdempotencyPipeline {
  nmgIdemRestore(key: string, taskId: string, fingerprint: string, ttl: number, createdAt: string): this;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * IdempotencyStore on Redis: one hash per key (`<prefix>:idem:<keyHash>`), claimed and released by Lua
 * scripts, and `<prefix>:idem-restored`, which is gone with the keys when Redis loses its data.
 */
@Injectable()
export class RedisIdempotencyStore extends IdempotencyStore {
  private readonly client: Redis & IdempotencyCommands;

  constructor(private readonly redis: RedisService) {
    super();
    // defineCommand runs EVALSHA and reloads the script after a Redis restart (NOSCRIPT).
    redis.client.defineCommand('nmgIdemClaim', { numberOfKeys: 2, lua: CLAIM_LUA });
    redis.client.defineCommand('nmgIdemRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    redis.client.defineCommand('nmgIdemRestore', { numberOfKeys: 1, lua: RESTORE_LUA });
    this.client = redis.client as Redis & IdempotencyCommands;
  }

  async claim(
    keyHash: string,
    fingerprint: string,
    taskId: string,
    ttlSeconds: number,
  ): Promise<ClaimResult> {
    const [outcome, owner] = await this.client.nmgIdemClaim(
      this.key(keyHash),
      this.restoredKey(),
      fingerprint,
      taskId,
      wholeSeconds(ttlSeconds),
      new Date().toISOString(),
    );
    if (outcome === 'unrestored') return { outcome };
    if (outcome !== 'claimed' && outcome !== 'replay' && outcome !== 'mismatch') {
      throw new Error(`unexpected idempotency claim outcome ${String(outcome)}`);
    }
    return { outcome, taskId: owner };
  }

  async get(keyHash: string): Promise<IdempotencyRecord | null> {
    const [taskId, fingerprint] = await this.client.hmget(this.key(keyHash), 'task_id', 'fp');
    return taskId && fingerprint ? { taskId, fingerprint } : null;
  }

  async touch(keyHash: string, ttlSeconds: number): Promise<void> {
    await this.client.expire(this.key(keyHash), wholeSeconds(ttlSeconds));
  }

  async release(keyHash: string, taskId: string): Promise<void> {
    await this.client.nmgIdemRelease(this.key(keyHash), taskId);
  }

  async restore(keys: RestoredKey[]): Promise<void> {
    if (keys.length === 0) return;
    const pipe = this.redis.client.pipeline() as unknown as IdempotencyPipeline;
    const now = new Date().toISOString();
    for (const k of keys) {
      pipe.nmgIdemRestore(this.key(k.keyHash), k.taskId, k.fingerprint, wholeSeconds(k.ttlSeconds), now);
    }
    const failed = ((await pipe.exec()) ?? []).find(([err]) => err);
    if (failed) throw failed[0];
  }

  async isRestored(): Promise<boolean> {
    return (await this.client.exists(this.restoredKey())) === 1;
  }

  async markRestored(): Promise<void> {
    await this.client.set(this.restoredKey(), new Date().toISOString());
  }

  async whileRestoring(fn: () => Promise<void>): Promise<boolean> {
    return (await withRedisLock(this.redis.client, this.redis.key('idem-restoring'), 60_000, fn)).acquired;
  }

  private key(keyHash: string): string {
    return this.redis.key('idem', keyHash);
  }

  private restoredKey(): string {
    return this.redis.key('idem-restored');
  }
}

function wholeSeconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 1)
    throw new RangeError(`idempotency TTL must be >= 1 s, got ${ttlSeconds}`);
  return Math.ceil(ttlSeconds);
}
