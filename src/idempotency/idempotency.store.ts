import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { RedisService } from '../common/redis/redis.service';

/** Result of claiming a key: first caller claims; identical callers replay; a different request is a mismatch. */
export type ClaimResult =
  | { outcome: 'claimed'; taskId: string }
  | { outcome: 'replay'; taskId: string }
  | { outcome: 'mismatch'; taskId: string };

/** What a claimed key remembers. */
export interface IdempotencyRecord {
  taskId: string;
  fingerprint: string;
}

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
}

// Claim in one step: create-with-expiry when absent, otherwise compare fingerprints. Returns {outcome, taskId}.
const CLAIM_LUA = `
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

interface IdempotencyCommands {
  nmgIdemClaim(
    key: string,
    fingerprint: string,
    taskId: string,
    ttl: number,
    createdAt: string,
  ): Promise<[string, string]>;
  nmgIdemRelease(key: string, taskId: string): Promise<number>;
}

/** IdempotencyStore on Redis: one hash per key (`<prefix>:idem:<keyHash>`), claimed and released by Lua scripts. */
@Injectable()
export class RedisIdempotencyStore extends IdempotencyStore {
  private readonly client: Redis & IdempotencyCommands;

  constructor(private readonly redis: RedisService) {
    super();
    // defineCommand runs EVALSHA and reloads the script after a Redis restart (NOSCRIPT).
    redis.client.defineCommand('nmgIdemClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.client.defineCommand('nmgIdemRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
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
      fingerprint,
      taskId,
      wholeSeconds(ttlSeconds),
      new Date().toISOString(),
    );
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

  private key(keyHash: string): string {
    return this.redis.key('idem', keyHash);
  }
}

function wholeSeconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 1)
    throw new RangeError(`idempotency TTL must be >= 1 s, got ${ttlSeconds}`);
  return Math.ceil(ttlSeconds);
}
