import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { ConsumerState } from '../../src/queue/consumer-state';
import { QueueName } from '../../src/queue/queue-names';
import { startTestApp, TestApp } from '../support/app-harness';

/** Bull keeps its registered handlers here; a queue with none consumes nothing. */
function handlerNames(queue: Queue): string[] {
  return Object.keys((queue as unknown as { handlers: Record<string, unknown> }).handlers ?? {});
}

describe('process modes', () => {
  describe('all', () => {
    let t: TestApp;
    beforeAll(async () => (t = await startTestApp({ APP_MODE: 'all' })));
    afterAll(() => t.close());

    it('serves the API and health, and consumes the scan queue', async () => {
      await request(t.url).get('/health/live').expect(200);
      await request(t.url).get('/health/ready').expect(200);
      await request(t.url).get('/api/v1/pools').expect(200);
      expect(t.app.get(ConsumerState).isRunning).toBe(true);
      expect(handlerNames(t.app.get<Queue>(getQueueToken(QueueName.ScanSteps)))).toContain('advance');
    });
  });

  describe('api', () => {
    let t: TestApp;
    beforeAll(async () => (t = await startTestApp({ APP_MODE: 'api' })));
    afterAll(() => t.close());

    it('serves the API but registers no queue consumer', async () => {
      await request(t.url).get('/api/v1/pools').expect(200);
      const ready = await request(t.url).get('/health/ready').expect(200);
      expect(ready.body.info.consumers).toMatchObject({ status: 'up', consumers: 'none in api mode' });
      expect(handlerNames(t.app.get<Queue>(getQueueToken(QueueName.ScanSteps)))).toEqual([]);
      expect(t.app.get(ConsumerState).isRunning).toBe(false);
    });
  });

  describe('worker', () => {
    let t: TestApp;
    beforeAll(async () => (t = await startTestApp({ APP_MODE: 'worker', API_KEYS: 'ops:k1' })));
    afterAll(() => t.close());

    it('serves only /health and /metrics over HTTP, and consumes the queue', async () => {
      await request(t.url).get('/health/live').expect(200);
      await request(t.url).get('/health/ready').expect(200);
      await request(t.url).get('/health').expect(200);
      await request(t.url).get('/metrics').set('Authorization', 'Bearer k1').expect(200);
      for (const path of ['/api/v1/pools', '/api/v1/scans', '/mcp', '/sse', '/api/docs']) {
        await request(t.url).get(path).expect(404);
        await request(t.url).get(path).set('Authorization', 'Bearer k1').expect(404);
      }
      expect(handlerNames(t.app.get<Queue>(getQueueToken(QueueName.ScanSteps)))).toContain('advance');
    });
  });

  it('refuses to start with an unknown mode, naming the variable', () => {
    const res = spawnSync(process.execPath, [join(__dirname, '../../dist/main.js')], {
      env: { PATH: process.env.PATH, APP_MODE: 'bogus' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/APP_MODE: must be one of all, api, worker \(got "bogus"\)/);
  });
});
