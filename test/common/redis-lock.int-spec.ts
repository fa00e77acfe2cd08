import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { withRedisLock } from '../../src/common/redis/redis-lock';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

describe('withRedisLock (real Redis)', () => {
  const prefix = uniquePrefix('lock');
  const key = `${prefix}:lock:x`;
  let client: Redis;

  beforeAll(() => {
    client = new Redis(testRedisUrl());
  });

  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });

  it('lets one of two concurrent holders run and releases the lock afterwards', async () => {
    let running = 0;
    let overlapped = false;
    const body = async () => {
      running++;
      overlapped ||= running > 1;
      await sleep(100);
      running--;
      return 'ran';
    };
    const results = await Promise.all([
      withRedisLock(client, key, 5000, body),
      withRedisLock(client, key, 5000, body),
    ]);
    expect(results.filter((r) => r.acquired)).toEqual([{ acquired: true, value: 'ran' }]);
    expect(overlapped).toBe(false);
    expect(await client.exists(key)).toBe(0);
  });

  it('keeps the lock while a holder runs longer than the TTL', async () => {
    let contender: Awaited<ReturnType<typeof withRedisLock>> | undefined;
    await withRedisLock(client, key, 300, async () => {
      await sleep(900);
      contender = await withRedisLock(client, key, 300, async () => 'stolen');
    });
    expect(contender).toEqual({ acquired: false });
  });

  it("expires a holder that stopped renewing, and never deletes someone else's lock", async () => {
    // A crashed holder: a token nobody renews.
    await client.set(key, 'dead-worker', 'PX', 200);
    expect(await withRedisLock(client, key, 5000, async () => 'x')).toEqual({ acquired: false });
    await sleep(300);
    const late = await withRedisLock(client, key, 5000, async (stillHeld) => {
      expect(await stillHeld()).toBe(true);
      // Our lock is taken over (e.g. it lapsed during a Redis outage): release must leave the new owner's.
      await client.set(key, 'new-owner');
      return stillHeld();
    });
    // The holder could tell it had lost the lock.
    expect(late).toEqual({ acquired: true, value: false });
    expect(await client.get(key)).toBe('new-owner');
    await client.del(key);
  });

  it('releases the lock when the holder throws', async () => {
    await expect(withRedisLock(client, key, 5000, () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await client.exists(key)).toBe(0);
  });
});
