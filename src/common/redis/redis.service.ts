import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app-config';
import { baseRedisOptions, failFastOptions } from './redis-options';

/**
 * The shared ioredis command connection (idempotency keys, leases, indexes). Commands fail fast while
 * Redis is down. Keys are namespaced with `key()`, never with ioredis keyPrefix (Bull forbids it).
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
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

  /** Start-up waits a little for the first connection, so the first commands don't fail needlessly. */
  async onModuleInit(): Promise<void> {
    if (!(await this.whenReady(3000)))
      this.log.warn('Redis is not reachable yet; readiness stays down until it is');
  }

  /** Resolves true once connected (at once if already), false after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.once('ready', onReady);
    });
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
        this.log.warn(
          `Redis maxmemory-policy is ${policy}; set noeviction or queued jobs and locks may be evicted`,
        );
      }
    } catch {
      // Managed Redis often blocks CONFIG; nothing to check then.
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
