import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export type LockResult<T> = { acquired: true; value: T } | { acquired: false };

/** Asks Redis whether the lock is still this holder's (a holder paused past its TTL may have lost it). */
export type StillHeld = () => Promise<boolean>;

/**
 * Runs `fn` while holding the Redis lock `key` (SET NX PX with an owner token), or returns
 * `{ acquired: false }` at once when someone else holds it. The lock is renewed every third of `ttlMs`
 * while `fn` runs, so a long holder keeps it and a crashed one loses it within `ttlMs`; only the owner
 * releases it. `fn` gets `stillHeld` to check before an action no one else may take meanwhile.
 */
export async function withRedisLock<T>(
  client: Redis,
  key: string,
  ttlMs: number,
  fn: (stillHeld: StillHeld) => Promise<T>,
): Promise<LockResult<T>> {
  const token = randomUUID();
  if ((await client.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return { acquired: false };
  // A failed renewal (Redis blip) is retried on the next tick; the TTL covers two missed ones.
  const renewal = setInterval(
    () => void client.eval(RENEW_LUA, 1, key, token, String(ttlMs)).catch(() => undefined),
    Math.max(100, Math.floor(ttlMs / 3)),
  );
  renewal.unref();
  try {
    return { acquired: true, value: await fn(async () => (await client.get(key)) === token) };
  } finally {
    clearInterval(renewal);
    await client.eval(RELEASE_LUA, 1, key, token).catch(() => undefined);
  }
}
