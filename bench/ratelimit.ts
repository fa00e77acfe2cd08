/**
 * ratelimit: the rate limit's storage, counted once per REST request and MCP POST, against the hits a
 * client already has in its one-minute window (600 is the default RATE_LIMIT_PER_MINUTE; at 1,000
 * requests/s a client has 60,000). The gateway's storage (the built dist/ HitLogStorage) and
 * @nestjs/throttler's in-memory storage, which it replaces, in this process: CPU per request with the
 * window held at each size.
 */
import { join } from 'node:path';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { ROOT, figure, fmt, header } from './support';

const WINDOW_MS = 60_000;
const SIZES = [600, 10_000, 60_000];
const CALLS = 2_000;

interface Storage {
  increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<unknown>;
}

/** CPU (µs) per increment once `size` hits are in the window (no hit expires during the run). */
async function cpuPerHit(storage: Storage, size: number): Promise<number> {
  for (let i = 0; i < size; i++)
    await storage.increment('client', WINDOW_MS, 10_000_000, WINDOW_MS, 'default');
  const before = process.cpuUsage();
  for (let i = 0; i < CALLS; i++)
    await storage.increment('client', WINDOW_MS, 10_000_000, WINDOW_MS, 'default');
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CALLS;
}

export async function run(): Promise<void> {
  header(`ratelimit: CPU per counted request, ${CALLS} requests at each window size`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { HitLogStorage } = require(join(ROOT, 'dist/security/hit-log-storage.js')) as {
    HitLogStorage: new () => Storage;
  };
  const measure = async (size: number) => {
    const library = new ThrottlerStorageService();
    const theirs = await cpuPerHit(library, size);
    library.onApplicationShutdown();
    return { theirs, ours: await cpuPerHit(new HitLogStorage(), size) };
  };
  await measure(SIZES[0]); // warm-up: both compiled before anything is measured
  for (const size of SIZES) {
    const { theirs, ours } = await measure(size);
    figure(`${fmt(size)} hits in the window`, `${fmt(ours, 1)} µs`);
    figure('  @nestjs/throttler storage', `${fmt(theirs, 1)} µs`);
  }
}
