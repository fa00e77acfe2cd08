import { readdirSync } from 'node:fs';
import Redis from 'ioredis';
import request from 'supertest';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { freePort, onPath, redisAnswers, startPrivateRedis } from '../support/redis-harness';
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
describe('a Redis outage: readiness, submissions, recovery', () => {
  let port: number;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let sim: SimulatorHandle;
  let t: TestApp;

  beforeAll(async () => {
    if (!onPath('redis-server')) {
      throw new Error(
        'this test stops and restarts its own Redis: install redis-server (apt-get install redis-server)',
      );
    }
    port = await freePort();
    redis = await startPrivateRedis(port);
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 500 } });
    t = await startTestApp(
      { APP_MODE: 'all', REDIS_URL: redis.url, POLL_INTERVAL_SECONDS: '1' },
      { nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url }] },
    );
  });

  afterAll(async () => {
    // A test that failed mid-outage leaves Redis down, and the app would wait for it to close.
    if (port && !(await redisAnswers('127.0.0.1', port))) redis = await startPrivateRedis(port);
    await t?.close().catch(() => undefined);
    await redis?.stop();
    await sim?.stop();
  });

  const submit = (name: string) =>
    request(t.url)
      .post('/api/v1/scans')
      .set('Idempotency-Key', `outage-${name}`)
      .send({ targets: '192.0.2.5', name });

  it('turns /health/ready to 503 and submissions to fast 503s while Redis is down, keeps /health/live at 200, and recovers by itself', async () => {
    await request(t.url).get('/health/ready').expect(200);

    await redis.stop();
    await eventually(async () => (await request(t.url).get('/health/ready')).status === 503);
    const down = await request(t.url).get('/health/ready');
    expect(down.body.details.redis.status).toBe('down');
    expect(down.body.message).toBe('not ready: redis');
    // Scanner state is reported, never a reason to be unready.
    expect(down.body.details.scanners).toMatchObject({ status: 'up', total: 1, circuit_open: [] });
    await request(t.url).get('/health/live').expect(200);

    // A submission fails fast with 503 and Retry-After instead of waiting for Redis.
    const started = Date.now();
    const refused = await submit('during the outage');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body.message).toMatch(/unavailable/i);
    // So does a route whose Redis reads have no 503 of their own: the outage is a 503, never a 500.
    const queue = await request(t.url).get('/api/v1/queue');
    expect({ status: queue.status, retryAfter: queue.headers['retry-after'] }).toEqual({
      status: 503,
      retryAfter: '5',
    });
    expect(queue.body.message).toMatch(/^Redis is unavailable \(.+\); retry shortly$/);

    // Back without its data (no persistence): ready again, and the consumers take new jobs (Bull #1873).
    redis = await startPrivateRedis(port);
    await eventually(async () => (await request(t.url).get('/health/ready')).status === 200);
    const accepted = await submit('after the outage');
    expect(accepted.status).toBe(202);
    const taskId = accepted.body.task_id as string;
    await eventually(
      async () => (await request(t.url).get(`/api/v1/scans/${taskId}`)).body.status === 'completed',
    );
  });

  it('Redis full under noeviction: a submission is a 503 that stores nothing and keeps its key free (RELIABILITY 23)', async () => {
    const tasksBefore = readdirSync(t.dataDir).length;
    const admin = new Redis(redis.url);
    try {
      // Every write that could grow memory is now refused with OOM; reads still work.
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      const full = await submit('redis full');
      expect({ status: full.status, retryAfter: full.headers['retry-after'] }).toEqual({
        status: 503,
        retryAfter: '5',
      });
      expect(full.body.message).toMatch(/unavailable/i);
      expect(readdirSync(t.dataDir)).toHaveLength(tasksBefore);
      await request(t.url).get('/health/live').expect(200);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      await admin.quit();
    }
    // The same key makes a new task once Redis has room: nothing of the refused one was kept.
    const retried = await submit('redis full');
    expect(retried.status).toBe(202);
    expect(retried.body.idempotent_replay).toBe(false);
    expect(readdirSync(t.dataDir)).toHaveLength(tasksBefore + 1);
    await eventually(
      async () =>
        (await request(t.url).get(`/api/v1/scans/${retried.body.task_id}`)).body.status === 'completed',
    );
  });
});
