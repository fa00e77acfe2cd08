/**
 * Child process for the cross-process capacity tests (run with `node -r ts-node/register/transpile-only`).
 *
 * NMG_MODE=compete: NMG_LOOPS concurrent loops each take NMG_TASKS leases in turn on the pool
 *   NMG_POOL (candidates NMG_CANDIDATES as JSON), hold each a random few ms and release it; prints
 *   {"acquired": {instanceId: count}} when done. Waits for a line on stdin before starting.
 * NMG_MODE=hold: acquires a lease for task NMG_TASK (TTL NMG_TTL_MS) and renews it every
 *   NMG_RENEW_MS until killed; prints {"holding": instanceId} once it holds it.
 */
import { createInterface } from 'node:readline';
import { RedisService } from '../../src/common/redis/redis.service';
import { AppConfig } from '../../src/config/app-config';
import { CapacityLeases } from '../../src/scanners/capacity-leases.store';
import type { Candidate } from '../../src/scanners/round-robin';

const env = process.env;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const print = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);

async function connect(): Promise<{ redis: RedisService; leases: CapacityLeases }> {
  const redis = new RedisService(
    AppConfig.fromEnv({ REDIS_URL: env.NMG_REDIS_URL, REDIS_PREFIX: env.NMG_PREFIX }),
  );
  if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
  return { redis, leases: new CapacityLeases(redis) };
}

async function compete(leases: CapacityLeases): Promise<void> {
  const candidates = JSON.parse(env.NMG_CANDIDATES!) as Candidate[];
  const pool = env.NMG_POOL!;
  const loops = Number(env.NMG_LOOPS);
  const tasks = Number(env.NMG_TASKS);
  const acquired: Record<string, number> = {};
  const lines = createInterface({ input: process.stdin });
  print({ ready: true });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = 0; i < tasks; i++) {
        const taskId = `${process.pid}-${loop}-${i}`;
        let instance: string | null = null;
        while (instance === null) {
          instance = await leases.acquire(pool, candidates, taskId, 60_000);
          if (instance === null) await sleep(Math.random() * 3);
        }
        acquired[instance] = (acquired[instance] ?? 0) + 1;
        await sleep(1 + Math.random() * 8);
        await leases.release(instance, taskId);
      }
    }),
  );
  print({ acquired });
}

async function hold(leases: CapacityLeases): Promise<void> {
  const candidates = JSON.parse(env.NMG_CANDIDATES!) as Candidate[];
  const ttl = Number(env.NMG_TTL_MS);
  const instance = await leases.acquire(env.NMG_POOL!, candidates, env.NMG_TASK!, ttl);
  if (instance === null) throw new Error('no capacity for the holder');
  print({ holding: instance });
  for (;;) {
    await sleep(Number(env.NMG_RENEW_MS));
    await leases.renew(instance, env.NMG_TASK!, ttl);
  }
}

async function main(): Promise<void> {
  const { redis, leases } = await connect();
  if (env.NMG_MODE === 'compete') await compete(leases);
  else await hold(leases);
  await redis.client.quit();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
