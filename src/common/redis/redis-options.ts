import type { RedisOptions } from 'ioredis';

export type BullClientType = 'client' | 'subscriber' | 'bclient';

export interface RedisSettings {
  url: string;
  sentinels: string[];
  sentinelName: string;
}

/** Base ioredis options from REDIS_URL (TLS for rediss://, password, db) and optional Sentinels. */
export function baseRedisOptions(settings: RedisSettings): RedisOptions {
  const u = new URL(settings.url);
  const opts: RedisOptions = {
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? { servername: u.hostname } : undefined,
    connectionName: 'nessus-mcp-gateway',
    // Keep reconnecting with a capped delay; never give up while the process lives.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (settings.sentinels.length > 0) {
    opts.sentinels = settings.sentinels.map((hp) => {
      const [host, port] = hp.split(':');
      return { host, port: Number(port || 26379) };
    });
    opts.name = settings.sentinelName;
    opts.sentinelPassword = opts.password;
    // ioredis ignores `tls` in Sentinel mode unless told: rediss:// must mean TLS to master and Sentinels too.
    if (opts.tls) {
      opts.enableTLSForSentinelMode = true;
      opts.sentinelTLS = opts.tls;
    }
  } else {
    opts.host = u.hostname;
    opts.port = Number(u.port || 6379);
  }
  return opts;
}

/**
 * Options for the connections Bull creates. Its blocking and subscriber clients must have
 * maxRetriesPerRequest null and enableReadyCheck false (Bull v4 refuses others); the command client
 * fails fast while Redis is down so a producer call errors instead of hanging.
 */
export function bullClientOptions(settings: RedisSettings, type: BullClientType): RedisOptions {
  const base = baseRedisOptions(settings);
  if (type === 'client') return { ...base, ...failFastOptions() };
  return { ...base, maxRetriesPerRequest: null, enableReadyCheck: false };
}

/** Commands error at once while disconnected instead of queueing until Redis returns. */
export function failFastOptions(): RedisOptions {
  return { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000 };
}
