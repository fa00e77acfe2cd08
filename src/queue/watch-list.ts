import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS_NOW_LUA } from '../common/redis/redis-now';
import { RedisService } from '../common/redis/redis.service';

/** What a watcher needs to poll a running scan without reading its task file or queueing a job. */
export interface WatchedScan {
  taskId: string;
  traceId: string;
  instanceId: string;
  scanId: number;
  /** Hosts the scan covers, for the progress figure. */
  hosts: number;
  /** Progress as the task file has it: a different figure from Nessus is written by a poll step. */
  progress: number;
  /** When SCAN_TIMEOUT_SECONDS runs out (ms since the epoch); a poll step then stops the scan. */
  deadlineMs: number;
  idempotencyKeyHash: string | null;
  /** The poll step this watch stands for, its place in the poll sequence and its chain's tag. */
  stepKey: string;
  seq: number;
  chain?: string;
}

// Due times are Redis TIME, so workers whose clocks disagree still poll each scan once per interval.
const NOW = REDIS_NOW_LUA;

/**
 * KEYS = chain pointer, due set, scans hash. ARGV = the job id the pointer must still name, the watch
 * pointer, task id, delay ms, the WatchedScan JSON, pointer TTL s. Returns 1, or 0 when the chain moved on
 * (a cancel forgot it): a task that ended meanwhile is not watched again.
 */
const PARK_LUA = `${NOW}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[6]))
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
return 1
`;

/**
 * KEYS = due set, scans hash. ARGV = batch size, hold ms. Takes up to a batch of due scans and moves
 * them `hold` ms ahead, so no other worker polls them meanwhile and a worker that dies holding them only
 * delays them. Returns task id, JSON pairs ('' when the scan's record is gone).
 */
const CLAIM_LUA = `${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #ids == 0 then return {} end
local hold = now + tonumber(ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], hold, id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
end
return out
`;

/** KEYS = due set. ARGV = delay ms, task ids. Watched again after the delay, unless forgotten meanwhile. */
const RESCHEDULE_LUA = `${NOW}
local kept = {}
for i = 2, #ARGV do
  kept[#kept + 1] = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return kept
`;

/** KEYS = due set, scans hash. ARGV = task id. 1 for the one caller that takes the scan out of the watch. */
const RELEASE_LUA = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

interface WatchCommands {
  nmgWatchPark(...args: (string | number)[]): Promise<number>;
  nmgWatchClaim(...args: (string | number)[]): Promise<string[]>;
  nmgWatchReschedule(...args: (string | number)[]): Promise<number[]>;
  nmgWatchRelease(...args: string[]): Promise<number>;
}

/**
 * Running scans polled by the workers' watchers instead of by one queued job per scan and poll
 * (`<prefix>:watch:due`, score = next poll in ms of Redis time; `<prefix>:watch:scans`, task id →
 * WatchedScan). A watched task's chain pointer names the watch, so it counts as a live chain; when a poll
 * finds something to record, the watch is released into an ordinary poll step.
 */
@Injectable()
export class WatchList {
  private readonly client: Redis & WatchCommands;
  private readonly dueKey: string;
  private readonly scansKey: string;

  constructor(redis: RedisService) {
    redis.client.defineCommand('nmgWatchPark', { numberOfKeys: 3, lua: PARK_LUA });
    redis.client.defineCommand('nmgWatchClaim', { numberOfKeys: 2, lua: CLAIM_LUA });
    redis.client.defineCommand('nmgWatchReschedule', { numberOfKeys: 1, lua: RESCHEDULE_LUA });
    redis.client.defineCommand('nmgWatchRelease', { numberOfKeys: 2, lua: RELEASE_LUA });
    this.client = redis.client as Redis & WatchCommands;
    this.dueKey = redis.key('watch', 'due');
    this.scansKey = redis.key('watch', 'scans');
  }

  /** Watches `scan` from `delayMs` on, while `chainKey` still names `jobId`; false when it does not. */
  async park(
    chainKey: string,
    jobId: string,
    pointer: string,
    scan: WatchedScan,
    delayMs: number,
    pointerTtlSeconds: number,
  ): Promise<boolean> {
    const parked = await this.client.nmgWatchPark(
      chainKey,
      this.dueKey,
      this.scansKey,
      jobId,
      pointer,
      scan.taskId,
      Math.max(0, Math.round(delayMs)),
      JSON.stringify(scan),
      pointerTtlSeconds,
    );
    return parked === 1;
  }

  /**
   * Up to `batch` scans that are due, held for `holdMs`. A task id with a null scan lost its record
   * (it is released by the caller).
   */
  async claimDue(batch: number, holdMs: number): Promise<{ taskId: string; scan: WatchedScan | null }[]> {
    const flat = await this.client.nmgWatchClaim(this.dueKey, this.scansKey, batch, Math.round(holdMs));
    const out: { taskId: string; scan: WatchedScan | null }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      out.push({ taskId: flat[i], scan: flat[i + 1] ? (JSON.parse(flat[i + 1]) as WatchedScan) : null });
    }
    return out;
  }

  /** Polls these again after `delayMs`; returns the ones still watched (a cancel may have released one). */
  async reschedule(taskIds: string[], delayMs: number): Promise<string[]> {
    if (!taskIds.length) return [];
    const kept = await this.client.nmgWatchReschedule(this.dueKey, Math.round(delayMs), ...taskIds);
    return taskIds.filter((_, i) => kept[i] === 1);
  }

  /** Ends the watch; true for the one caller that ended it. */
  async release(taskId: string): Promise<boolean> {
    return (await this.client.nmgWatchRelease(this.dueKey, this.scansKey, taskId)) === 1;
  }

  async isWatched(taskId: string): Promise<boolean> {
    return (await this.client.zscore(this.dueKey, taskId)) !== null;
  }

  size(): Promise<number> {
    return this.client.zcard(this.dueKey);
  }
}
