import { resolveTestRedis } from './redis-harness';

/** Finds or starts the Redis the integration and e2e tests share; each test uses its own key prefix. */
export default async function globalSetup(): Promise<void> {
  const redis = await resolveTestRedis();
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __nmgRedisStop?: () => Promise<void> }).__nmgRedisStop = redis.stop;
}
