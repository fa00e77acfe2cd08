import { Injectable } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';

/** A task whose step job exhausted its retries; it stays in its state until an operator acts. */
export interface DeadLetter {
  task_id: string;
  job_id: string;
  error: string;
  attempts: number;
  failed_at: string;
}

/** The dead-letter list: one entry per task, newest last. */
@Injectable()
export class DeadLetterStore {
  constructor(private readonly redis: RedisService) {}

  private get hashKey(): string {
    return this.redis.key('dlq', 'entries');
  }
  private get orderKey(): string {
    return this.redis.key('dlq', 'order');
  }

  async add(entry: DeadLetter): Promise<void> {
    await this.redis.client
      .multi()
      .hset(this.hashKey, entry.task_id, JSON.stringify(entry))
      .zadd(this.orderKey, Date.parse(entry.failed_at), entry.task_id)
      .exec();
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    const ids = await this.redis.client.zrange(this.orderKey, 0, limit - 1);
    if (!ids.length) return [];
    const raw = await this.redis.client.hmget(this.hashKey, ...ids);
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as DeadLetter);
  }

  async get(taskId: string): Promise<DeadLetter | null> {
    const raw = await this.redis.client.hget(this.hashKey, taskId);
    return raw ? (JSON.parse(raw) as DeadLetter) : null;
  }

  async has(taskId: string): Promise<boolean> {
    return (await this.redis.client.hexists(this.hashKey, taskId)) === 1;
  }

  async remove(taskId: string): Promise<boolean> {
    const [[, n]] = (await this.redis.client
      .multi()
      .hdel(this.hashKey, taskId)
      .zrem(this.orderKey, taskId)
      .exec()) as [[Error | null, number]];
    return n === 1;
  }

  async size(): Promise<number> {
    return this.redis.client.zcard(this.orderKey);
  }
}
