import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS_NOW_LUA } from '../common/redis/redis-now';
import { RedisService } from '../common/redis/redis.service';
import type { Candidate } from './round-robin';

// Every script reads the clock with Redis TIME: all workers then judge expiry by one clock, so a worker
// host whose clock runs ahead can never expire a lease another worker still renews.
const NOW = REDIS_NOW_LUA;

// Keeps an idle lease set from outliving its last lease (removed scanners leave nothing behind).
const FIT_EXPIRY = `
local function fit_expiry(k, now)
  local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', k, math.max(1, tonumber(last[2]) - now + 1000)) end
end
`;

/**
 * KEYS[1] = round-robin key of the pool (last chosen instance), KEYS[1+i] = lease set of candidate i.
 * ARGV = taskId, ttlMs, then instanceId_i, max_i per candidate. Returns the leased instance id or false.
 */
const ACQUIRE_LUA = `${NOW}${FIT_EXPIRY}
local task = ARGV[1]
local ttl = tonumber(ARGV[2])
local n = #KEYS - 1
local counts = {}
for i = 1, n do
  local k = KEYS[i + 1]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  if redis.call('ZSCORE', k, task) then
    redis.call('ZADD', k, now + ttl, task)
    fit_expiry(k, now)
    return ARGV[1 + 2 * i]
  end
  counts[i] = redis.call('ZCARD', k)
end
local last = redis.call('GET', KEYS[1])
local start = 0
for i = 1, n do
  if ARGV[1 + 2 * i] == last then start = i % n break end
end
for j = 0, n - 1 do
  local i = (start + j) % n + 1
  if counts[i] < tonumber(ARGV[2 + 2 * i]) then
    local k = KEYS[i + 1]
    redis.call('ZADD', k, now + ttl, task)
    fit_expiry(k, now)
    redis.call('SET', KEYS[1], ARGV[1 + 2 * i])
    return ARGV[1 + 2 * i]
  end
end
return false
`;

/** KEYS[1] = lease set; ARGV = taskId, ttlMs. Returns 1 when the lease had expired (and was re-added). */
const RENEW_LUA = `${NOW}${FIT_EXPIRY}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local expired = (not score) or tonumber(score) <= now
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
fit_expiry(KEYS[1], now)
if expired then return 1 end
return 0
`;

/** KEYS = lease sets. Returns the number of unexpired leases of each. */
const COUNT_LUA = `${NOW}
local out = {}
for i = 1, #KEYS do out[i] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf') end
return out
`;

/** KEYS[1] = lease set. Returns the task ids holding an unexpired lease. */
const HOLDERS_LUA = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`;

interface LeaseCommands {
  nmgLeaseAcquire(numKeys: number, ...args: (string | number)[]): Promise<string | null>;
  nmgLeaseRenew(key: string, taskId: string, ttlMs: number): Promise<number>;
  nmgLeaseCount(numKeys: number, ...keys: string[]): Promise<number[]>;
  nmgLeaseHolders(key: string): Promise<string[]>;
}

/** Lease lifetime: renewed on every step and poll, so it lapses only when no worker tracks the task any more. */
export function leaseTtlMs(pollIntervalSeconds: number): number {
  return (3 * pollIntervalSeconds + 60) * 1000;
}

/**
 * Scanner capacity shared by every process, as leases in Redis: one sorted set per scanner
 * (`<prefix>:leases:<instanceId>`, member = task id, score = expiry in ms of Redis time).
 *
 * A task takes a lease just before its Nessus scan is created and releases it when it ends. The worker
 * that steps or polls the task renews it, so the lease of a live scan never lapses while the lease of a
 * task whose worker died (kill -9) expires after its TTL and frees the slot. The sum of unexpired leases
 * of a scanner never exceeds its max_concurrent_scans through acquire(); renew() may re-add a lapsed
 * lease of a scan that is still running, which can oversubscribe briefly rather than orphan that scan.
 */
@Injectable()
export class CapacityLeases {
  private readonly client: Redis & LeaseCommands;

  constructor(private readonly redis: RedisService) {
    // defineCommand runs EVALSHA and reloads the script after a Redis restart (NOSCRIPT).
    redis.client.defineCommand('nmgLeaseAcquire', { lua: ACQUIRE_LUA });
    redis.client.defineCommand('nmgLeaseRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    redis.client.defineCommand('nmgLeaseCount', { lua: COUNT_LUA });
    redis.client.defineCommand('nmgLeaseHolders', { numberOfKeys: 1, lua: HOLDERS_LUA });
    this.client = redis.client as Redis & LeaseCommands;
  }

  private leaseKey(instanceId: string): string {
    return this.redis.key('leases', instanceId);
  }

  /**
   * Atomically chooses and leases a scanner of `pool`: the one this task already holds among the
   * candidates (a retried step after a crash), else the next candidate round-robin after the pool's last
   * choice that is below its max. Candidates are in pool order and already enabled and healthy.
   * Returns the instance id, or null when every candidate is full.
   */
  async acquire(
    pool: string,
    candidates: readonly Candidate[],
    taskId: string,
    ttlMs: number,
  ): Promise<string | null> {
    if (candidates.length === 0) return null;
    const keys = [this.redis.key('rr', pool), ...candidates.map((c) => this.leaseKey(c.instanceId))];
    const args = [taskId, Math.ceil(ttlMs), ...candidates.flatMap((c) => [c.instanceId, c.max])];
    const chosen = await this.client.nmgLeaseAcquire(keys.length, ...keys, ...args);
    return chosen ?? null;
  }

  /**
   * Extends the task's lease to now + ttlMs. Re-adds it when it had expired (the scan still runs, so it
   * keeps its place); returns true in that case so the caller can log it.
   */
  async renew(instanceId: string, taskId: string, ttlMs: number): Promise<boolean> {
    return (await this.client.nmgLeaseRenew(this.leaseKey(instanceId), taskId, Math.ceil(ttlMs))) === 1;
  }

  /** Gives the slot back; returns whether the task held a lease there. Safe to repeat. */
  async release(instanceId: string, taskId: string): Promise<boolean> {
    return (await this.client.zrem(this.leaseKey(instanceId), taskId)) > 0;
  }

  /** Unexpired leases of one scanner. */
  async active(instanceId: string): Promise<number> {
    return (await this.activeByInstance([instanceId]))[instanceId];
  }

  /** Unexpired leases of each scanner, read at one instant. */
  async activeByInstance(instanceIds: readonly string[]): Promise<Record<string, number>> {
    if (instanceIds.length === 0) return {};
    const counts = await this.client.nmgLeaseCount(
      instanceIds.length,
      ...instanceIds.map((id) => this.leaseKey(id)),
    );
    return Object.fromEntries(instanceIds.map((id, i) => [id, Number(counts[i])]));
  }

  /** Task ids holding an unexpired lease on the scanner (for the reconciler and the admin CLI). */
  async holders(instanceId: string): Promise<string[]> {
    return this.client.nmgLeaseHolders(this.leaseKey(instanceId));
  }
}
