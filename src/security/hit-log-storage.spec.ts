import { ThrottlerStorageService } from '@nestjs/throttler';
import { HitLogStorage } from './hit-log-storage';

const MINUTE = 60_000;

function clockAt(start: number) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

describe('HitLogStorage', () => {
  it('counts hits per key and blocks a key past its limit for the block duration', async () => {
    const clock = clockAt(1_000_000);
    const storage = new HitLogStorage(clock.now);
    for (let i = 1; i <= 3; i++) {
      expect(await storage.increment('a', MINUTE, 3, MINUTE)).toEqual({
        totalHits: i,
        timeToExpire: 60,
        isBlocked: false,
        timeToBlockExpire: 0,
      });
    }
    clock.t += 10_000;
    expect(await storage.increment('a', MINUTE, 3, MINUTE)).toMatchObject({
      totalHits: 4,
      isBlocked: true,
      timeToBlockExpire: 60,
    });
    expect(await storage.increment('b', MINUTE, 3, MINUTE)).toMatchObject({ totalHits: 1, isBlocked: false });
    // Refused requests are not counted, and the block outlasts the hits that caused it
    clock.t += 59_000;
    expect(await storage.increment('a', MINUTE, 3, MINUTE)).toMatchObject({
      totalHits: 1,
      isBlocked: true,
      timeToBlockExpire: 1,
    });
    clock.t += 1_000;
    expect(await storage.increment('a', MINUTE, 3, MINUTE)).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('slides: a hit leaves the count exactly one window after it was made', async () => {
    const clock = clockAt(0);
    const storage = new HitLogStorage(clock.now);
    for (let i = 0; i < 5; i++) {
      await storage.increment('a', MINUTE, 100, MINUTE);
      clock.t += 10_000;
    }
    // hits at 0, 10, 20, 30, 40 s; now 50 s
    clock.t = 60_000;
    expect((await storage.increment('a', MINUTE, 100, MINUTE)).totalHits).toBe(5); // 0 s gone, 60 s added
    clock.t = 85_000;
    expect((await storage.increment('a', MINUTE, 100, MINUTE)).totalHits).toBe(4); // 30, 40, 60, 85
  });

  it('keeps an exact count across the compaction of a long log', async () => {
    const clock = clockAt(0);
    const storage = new HitLogStorage(clock.now);
    for (let i = 0; i < 1_000; i++) {
      await storage.increment('a', MINUTE, 10_000, MINUTE);
      clock.t += 100; // 10 per second: 600 in any one window
    }
    // the last hit was at 99.9 s; those at or before 40 s have expired
    expect((await storage.increment('a', MINUTE, 10_000, MINUTE)).totalHits).toBe(600);
  });

  it('answers as @nestjs/throttler’s own storage does for the same sequence of requests', async () => {
    const ours = new HitLogStorage();
    const theirs = new ThrottlerStorageService();
    try {
      for (let i = 0; i < 12; i++) {
        const expected = await theirs.increment('k', MINUTE, 5, 30_000, 'default');
        const got = await ours.increment('k', MINUTE, 5, 30_000);
        expect(got.totalHits).toBe(expected.totalHits);
        expect(got.isBlocked).toBe(expected.isBlocked);
      }
    } finally {
      theirs.onApplicationShutdown();
    }
  });

  it('forgets clients with no hits left in the window, but not a blocked one', async () => {
    const clock = clockAt(0);
    const storage = new HitLogStorage(clock.now);
    await storage.increment('idle', MINUTE, 5, MINUTE);
    for (let i = 0; i < 3; i++) await storage.increment('greedy', MINUTE, 1, 5 * MINUTE);
    clock.t = 2 * MINUTE;
    await storage.increment('fresh', MINUTE, 5, MINUTE);
    expect(storage.size).toBe(2); // idle forgotten; greedy still blocked; fresh
    expect(await storage.increment('greedy', MINUTE, 1, 5 * MINUTE)).toMatchObject({ isBlocked: true });
  });
});
