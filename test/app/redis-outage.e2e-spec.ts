import request from 'supertest';
import { freePort, onPath, startPrivateRedis } from '../support/redis-harness';
import { startTestApp, TestApp } from '../support/app-harness';

async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('condition not met in time');
}

// Needs its own redis-server to stop and start; the shared test Redis must not be touched.
describe('readiness follows Redis', () => {
  let port: number;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let t: TestApp;

  beforeAll(async () => {
    if (!onPath('redis-server')) {
      throw new Error(
        'this test stops and restarts its own Redis: install redis-server (apt-get install redis-server)',
      );
    }
    port = await freePort();
    redis = await startPrivateRedis(port);
    t = await startTestApp({ APP_MODE: 'all', REDIS_URL: redis.url });
  });

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await redis?.stop();
  });

  it('turns /health/ready to 503 while Redis is down, keeps /health/live at 200, and recovers by itself', async () => {
    await request(t.url).get('/health/ready').expect(200);

    await redis.stop();
    await eventually(async () => (await request(t.url).get('/health/ready')).status === 503);
    const down = await request(t.url).get('/health/ready');
    expect(down.body.details.redis.status).toBe('down');
    expect(down.body.message).toBe('not ready: redis');
    // Scanner state is reported, never a reason to be unready.
    expect(down.body.details.scanners).toMatchObject({ status: 'up', total: 1, circuit_open: [] });
    await request(t.url).get('/health/live').expect(200);

    redis = await startPrivateRedis(port);
    await eventually(async () => (await request(t.url).get('/health/ready')).status === 200);
  });
});
