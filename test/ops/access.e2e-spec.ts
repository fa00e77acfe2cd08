import request from 'supertest';
import { freePort, onPath, startPrivateRedis } from '../support/redis-harness';
import { startTestApp, type TestApp } from '../support/app-harness';
import { sample } from './prometheus-text';

const KEY = 'ops-access-key-0123456789';

describe('queue dashboard and /metrics access per mode', () => {
  describe('api mode with API keys', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ APP_MODE: 'api', API_KEYS: `ops:${KEY}` });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('answers 401 on the dashboard without a key or with a wrong one', async () => {
      const none = await request(t.url).get('/admin/queues');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect((await request(t.url).get('/admin/queues/api/queues')).status).toBe(401);
      expect((await request(t.url).get('/admin/queues').set('Authorization', 'Bearer wrong')).status).toBe(
        401,
      );
      expect((await request(t.url).get('/admin/queues').auth('admin', 'wrong')).status).toBe(401);
    });

    it('serves the dashboard and its API for the scan-steps queue with a Bearer key or Basic password', async () => {
      const page = await request(t.url).get('/admin/queues').set('Authorization', `Bearer ${KEY}`);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.text).toContain('nessus-mcp-gateway');
      expect((await request(t.url).get('/admin/queues').auth('anyone', KEY)).status).toBe(200);
      const api = await request(t.url).get('/admin/queues/api/queues').set('Authorization', `Bearer ${KEY}`);
      expect(api.status).toBe(200);
      expect((api.body as { queues: { name: string }[] }).queues.map((q) => q.name)).toEqual(['scan-steps']);
    });

    it('keeps /metrics behind the keys', async () => {
      expect((await request(t.url).get('/metrics')).status).toBe(401);
      expect((await request(t.url).get('/metrics').set('Authorization', `Bearer ${KEY}`)).status).toBe(200);
    });
  });

  describe('worker mode with METRICS_PUBLIC=true', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ APP_MODE: 'worker', API_KEYS: `ops:${KEY}`, METRICS_PUBLIC: 'true' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('serves /metrics without a key', async () => {
      const res = await request(t.url).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toContain('nmg_queue_jobs{state="waiting"}');
    });

    it('has no dashboard (HTTP API only in api and all modes)', async () => {
      expect((await request(t.url).get('/admin/queues').set('Authorization', `Bearer ${KEY}`)).status).toBe(
        404,
      );
    });
  });
});

// Needs its own redis-server to stop and start; the shared test Redis must not be touched.
describe('/metrics while Redis is down', () => {
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
    t = await startTestApp({ APP_MODE: 'api', REDIS_URL: redis.url, METRICS_PUBLIC: 'true' });
  });

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await redis?.stop();
  });

  it('still answers, with the Redis sources marked down and the process metrics present', async () => {
    await redis.stop();
    const res = await request(t.url).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('process_resident_memory_bytes');
    for (const source of ['queue', 'dead_letters', 'waiting_lines', 'scanners']) {
      expect(sample(res.text, 'nmg_metrics_source_up', { source })).toBe(0);
    }
    expect(sample(res.text, 'nmg_queue_jobs', { state: 'waiting' })).toBeUndefined();
    expect(
      sample(res.text, 'nmg_scanner_active_scans', { pool: 'nessus', scanner: 'scanner1' }),
    ).toBeUndefined();
    redis = await startPrivateRedis(port);
  });
});
