import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { REDIS_NOW_LUA } from '../common/redis/redis-now';
import { RedisService } from '../common/redis/redis.service';

/** KEYS[1] = the client's set; ARGV = cap, taskId. 1 when the task holds a place (already or now), 0 when full. */
const RESERVE_LUA = `${REDIS_NOW_LUA}
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[2])
return 1
`;

/** KEYS[1] = the client's set. Redis' clock, then task id and reservation time of every place. */
const PLACES_LUA = `${REDIS_NOW_LUA}
return {now, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
`;

interface QuotaCommands {
  nmgQuotaReserve(key: string, cap: number, taskId: string): Promise<number>;
  nmgQuotaPlaces(key: string): Promise<[number, string[]]>;
}

/**
 * MAX_ACTIVE_TASKS_PER_CLIENT (OWASP API4): per client, a Redis set of its queued and running task ids,
 * joined atomically when a submission stores a task and left when the task settles, so concurrent
 * submissions cannot overshoot the cap. The reconciler mends what a crash or a Redis restart leaves.
 */
@Injectable()
export class ActiveTaskQuota {
  readonly cap: number;
  private readonly commands: Redis & QuotaCommands;

  constructor(
    config: AppConfig,
    private readonly redis: RedisService,
  ) {
    this.cap = config.security.maxActiveTasksPerClient;
    redis.client.defineCommand('nmgQuotaReserve', { numberOfKeys: 1, lua: RESERVE_LUA });
    redis.client.defineCommand('nmgQuotaPlaces', { numberOfKeys: 1, lua: PLACES_LUA });
    this.commands = redis.client as Redis & QuotaCommands;
  }

  private key(clientId: string): string {
    return this.redis.key('client-active', clientId);
  }

  /** False when the client is at its cap; true when the task holds a place (repeating it is harmless). */
  async reserve(clientId: string, taskId: string): Promise<boolean> {
    if (this.cap === 0) return true;
    return (await this.commands.nmgQuotaReserve(this.key(clientId), this.cap, taskId)) === 1;
  }

  async release(clientId: string, taskId: string): Promise<void> {
    await this.redis.client.zrem(this.key(clientId), taskId);
  }

  /** Each task holding a place, with how long it has held it in ms (by Redis' clock). */
  async places(clientId: string): Promise<Map<string, number>> {
    const [now, flat] = await this.commands.nmgQuotaPlaces(this.key(clientId));
    const held = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) held.set(flat[i], now - Number(flat[i + 1]));
    return held;
  }

  /**
   * Gives an unfinished task its place back (after a Redis restart), even past the cap: it exists already.
   * Score 0: the grace of a fresh reservation is for a task not yet stored, and this one is.
   */
  async restore(clientId: string, taskId: string): Promise<boolean> {
    return (await this.redis.client.zadd(this.key(clientId), 'NX', 0, taskId)) === 1;
  }
}
