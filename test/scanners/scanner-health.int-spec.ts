import { Test, TestingModule } from '@nestjs/testing';
import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { CircuitBreakers } from '../../src/scanners/circuit-breakers';
import { ScannersModule } from '../../src/scanners/scanners.module';
import { ScannersService } from '../../src/scanners/scanners.service';
import { writeScannersYaml } from '../support/app-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';
import { sleep, waitFor } from '../support/wait-for';

const HALF_OPEN_MS = 400;
const transient = Object.assign(new Error('connection refused'), { transient: true });

/**
 * A worker's open circuit seen from an api-only process: two application contexts on one Redis prefix,
 * one making (failing, then succeeding) Nessus calls, one only answering list_scanners.
 */
describe('scanner health across processes (real Redis)', () => {
  let dir: string;
  let prefix: string;
  let config: AppConfig;
  const contexts: TestingModule[] = [];

  async function context(): Promise<TestingModule> {
    const ctx = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, ScannersModule],
    })
      .overrideProvider(CircuitBreakers)
      .useValue(new CircuitBreakers({ consecutiveFailures: 2, halfOpenAfterMs: HALF_OPEN_MS }))
      .compile();
    await ctx.init();
    await ctx.get(RedisService).whenReady(5000);
    contexts.push(ctx);
    return ctx;
  }

  const healthy = async (ctx: TestingModule) =>
    Object.fromEntries(
      (await ctx.get(ScannersService).listScanners()).scanners.map((s) => [s.instance_id, s.healthy]),
    );

  async function breakCircuit(worker: TestingModule): Promise<void> {
    const breakers = worker.get(CircuitBreakers);
    for (let i = 0; i < 2; i++) {
      await expect(breakers.execute('scanner1', () => Promise.reject(transient))).rejects.toBe(transient);
    }
    expect(breakers.isHealthy('scanner1')).toBe(false);
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nmg-health-'));
    prefix = uniquePrefix('health');
    config = AppConfig.fromEnv({
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: join(dir, 'tasks'),
      SCANNER_CONFIG: writeScannersYaml(dir, {
        nessus: [
          { instance_id: 'scanner1', url: 'http://127.0.0.1:9' },
          { instance_id: 'scanner2', url: 'http://127.0.0.1:9' },
        ],
      }),
      LOG_LEVEL: 'error',
    });
  });

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    const client = new Redis(testRedisUrl());
    await deletePrefix(client, prefix);
    await client.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an api process reports a scanner unhealthy while a worker's circuit for it is open, healthy once it closes", async () => {
    const [worker, api] = [await context(), await context()];
    expect(await healthy(api)).toEqual({ scanner1: true, scanner2: true });

    await breakCircuit(worker);
    await waitFor(
      () => healthy(api),
      (h) => h.scanner1 === false,
      2000,
    );
    expect(await healthy(api)).toEqual({ scanner1: false, scanner2: true });
    // Still open after the mark's first renewals.
    await sleep(4 * HALF_OPEN_MS);
    expect((await healthy(api)).scanner1).toBe(false);

    // The half-open probe succeeds: the circuit closes everywhere.
    await worker.get(CircuitBreakers).execute('scanner1', () => 'ok');
    await waitFor(
      () => healthy(api),
      (h) => h.scanner1 === true,
      2000,
    );
  });

  it('forgets the mark of a worker that stopped without closing its circuit', async () => {
    const [worker, api] = [await context(), await context()];
    await breakCircuit(worker);
    await waitFor(
      () => healthy(api),
      (h) => h.scanner1 === false,
      2000,
    );
    await worker.close();
    contexts.splice(contexts.indexOf(worker), 1);
    // Three half-open intervals without a renewal.
    await waitFor(
      () => healthy(api),
      (h) => h.scanner1 === true,
      6 * HALF_OPEN_MS,
    );
  });
});
