import { Injectable } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';

/**
 * Per-pool FIFO of tasks waiting for scanner capacity (score = submission time). A task is admitted
 * only when it is within the first free slots of its own pool, so pools never delay each other.
 */
@Injectable()
export class WaitingLine {
  constructor(private readonly redis: RedisService) {}

  private key(pool: string): string {
    return this.redis.key('waiting', pool);
  }

  async join(pool: string, taskId: string, submittedAtMs: number): Promise<void> {
    await this.redis.client.zadd(this.key(pool), 'NX', submittedAtMs, taskId);
  }

  async leave(pool: string, taskId: string): Promise<void> {
    await this.redis.client.zrem(this.key(pool), taskId);
  }

  /** 1-based position, or null when the task is not waiting. */
  async position(pool: string, taskId: string): Promise<number | null> {
    const rank = await this.redis.client.zrank(this.key(pool), taskId);
    return rank === null ? null : rank + 1;
  }

  async head(pool: string, n: number): Promise<string[]> {
    return this.redis.client.zrange(this.key(pool), 0, Math.max(0, n - 1));
  }

  async size(pool: string): Promise<number> {
    return this.redis.client.zcard(this.key(pool));
  }
}
