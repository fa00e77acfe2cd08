import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app-config';
import { baseRedisOptions, failFastOptions } from './redis-options';

/**
 * The shared ioredis command connection (idempotency keys, leases, indexes). Commands fail fast while
 * Redis is down. Keys are namespaced with `key()`, never with ioredis keyPrefix (Bull forbids it).
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly log = new Logger(RedisService.name);
  readonly client: Redis;
  readonly prefix: string;

  constructor(config: AppConfig) {
    this.prefix = config.redis.prefix;
    this.client = new Redis({ ...baseRedisOptions(config.redis), ...failFastOptions(), lazyConnect: false });
    // Without a listener ioredis prints every reconnect error; readiness reports the outage instead.
    this.client.on('error', (err) => this.log.debug(`redis: ${err.message}`));
    this.client.once('ready', () => void this.warnOnEvictionPolicy());
  }

  /** Namespaced key: `<REDIS_PREFIX>:<parts…>`. */
  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  private async warnOnEvictionPolicy(): Promise<void> {
    try {
      const res = (await this.client.config('GET', 'maxmemory-policy')) as string[];
      const policy = res[1];
      if (policy && policy !== 'noeviction') {
        this.log.warn(`Redis maxmemory-policy is ${policy}; set noeviction or queued jobs and locks may be evicted`);
      }
    } catch {
      // Managed Redis often blocks CONFIG; nothing to check then.
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
