/**
 * Child process for the cross-process claim test: connects, reports "ready", waits for "go" on stdin,
 * then fires NMG_COUNT concurrent claims for one key and prints their results as one JSON line.
 */
import { createInterface } from 'node:readline';
import { RedisService } from '../../src/common/redis/redis.service';
import { AppConfig } from '../../src/config/app-config';
import { RedisIdempotencyStore } from '../../src/idempotency/idempotency.store';

async function main(): Promise<void> {
  const env = process.env;
  const config = AppConfig.fromEnv({ REDIS_URL: env.NMG_REDIS_URL, REDIS_PREFIX: env.NMG_PREFIX });
  const redis = new RedisService(config);
  const store = new RedisIdempotencyStore(redis);
  if (redis.client.status !== 'ready') await new Promise((resolve) => redis.client.once('ready', resolve));
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  const count = Number(env.NMG_COUNT);
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      store.claim(env.NMG_KEY_HASH!, env.NMG_FP!, `task-${process.pid}-${i}`, Number(env.NMG_TTL)),
    ),
  );
  process.stdout.write(`${JSON.stringify(results)}\n`);
  await redis.client.quit();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
