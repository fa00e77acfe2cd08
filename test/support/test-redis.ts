import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/** The Redis URL chosen by the global setup. */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run integration tests through jest (global setup)');
  return url;
}

/** A key prefix private to one test file, so tests never touch other data on a shared Redis. */
export function uniquePrefix(label = 't'): string {
  return `nmgtest:${label}:${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under the prefix (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}
