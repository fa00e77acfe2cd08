import { Test, TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '../../src/common/errors';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { CircuitBreakers } from '../../src/scanners/circuit-breakers';
import { ScannerRegistry } from '../../src/scanners/scanner-registry.service';
import { ScannersModule } from '../../src/scanners/scanners.module';
import { ScannersService } from '../../src/scanners/scanners.service';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

const dir = mkdtempSync(join(tmpdir(), 'nmg-select-'));
const prefix = uniquePrefix('select');
const entry = (id: string, extra = '', url = `http://${id}.example:8834`) =>
  `  - instance_id: ${id}\n    url: ${url}\n    username: nessus\n    password: pw-${id}-secret\n${extra}`;

let moduleRef: TestingModule;
let registry: ScannerRegistry;
let scanners: ScannersService;
let breakers: CircuitBreakers;

beforeAll(async () => {
  const file = join(dir, 'scanners.yaml');
  writeFileSync(
    file,
    `lan:\n${entry('a', '    max_concurrent_scans: 2\n', 'https://admin:pw-url-secret@a.example:8834')}` +
      `${entry('b', '    max_concurrent_scans: 1\n')}${entry('c', '    enabled: false\n')}` +
      `dmz:\n${entry('d')}edge:\n${entry('e1', '    max_concurrent_scans: 1\n')}${entry('e2', '    max_concurrent_scans: 1\n')}`,
  );
  breakers = new CircuitBreakers({ consecutiveFailures: 1, halfOpenAfterMs: 600_000 });
  moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(
        AppConfig.fromEnv({
          REDIS_URL: testRedisUrl(),
          REDIS_PREFIX: prefix,
          SCANNER_CONFIG: file,
          MAX_CONCURRENT_SCANS: '4',
        }),
      ),
      RedisModule,
      ScannersModule,
    ],
  })
    .overrideProvider(CircuitBreakers)
    .useValue(breakers)
    .compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  const redis = moduleRef.get(RedisService);
  if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
  registry = moduleRef.get(ScannerRegistry);
  scanners = moduleRef.get(ScannersService);
}, 30_000);

afterAll(async () => {
  await deletePrefix(moduleRef.get(RedisService).client, prefix);
  await moduleRef.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('ScannerRegistry.select', () => {
  it('goes round-robin over the enabled scanners of the default pool and waits when it is full', async () => {
    const picks = [];
    for (const t of ['t1', 't2', 't3', 't4'])
      picks.push(await registry.select(undefined, undefined, t, 60_000));
    expect(picks).toEqual([
      { pool: 'lan', instanceId: 'a' },
      { pool: 'lan', instanceId: 'b' },
      { pool: 'lan', instanceId: 'a' },
      null,
    ]);
    expect(await registry.select('lan', 'b', 't5', 60_000)).toBeNull();
    expect(await registry.select('dmz', 'd', 't6', 60_000)).toEqual({ pool: 'dmz', instanceId: 'd' });
  });

  it('refuses an unknown pool listing the pools, and a bad requested instance saying why', async () => {
    const refusal = (pool: string, instance?: string) =>
      registry.select(pool, instance, 'x', 60_000).then(
        () => {
          throw new Error('expected a refusal');
        },
        (err: unknown) => {
          expect(err).toBeInstanceOf(ValidationError);
          return (err as ValidationError).fields;
        },
      );
    expect(await refusal('nope')).toEqual({
      scanner_pool: 'unknown scanner pool "nope"; pools: lan, dmz, edge',
    });
    expect(await refusal('lan', 'zz')).toEqual({
      scanner_instance: 'unknown scanner instance "zz"; pool "lan" has: a, b, c',
    });
    expect(await refusal('lan', 'd')).toEqual({
      scanner_instance: 'scanner instance "d" is in pool "dmz", not "lan"',
    });
    expect(await refusal('lan', 'c')).toEqual({ scanner_instance: 'scanner instance "c" is disabled' });
  });

  it('skips a scanner whose circuit is open, and shows it unhealthy', async () => {
    await expect(
      breakers.execute('e1', () => {
        throw Object.assign(new Error('ECONNREFUSED'), { transient: true });
      }),
    ).rejects.toThrow('ECONNREFUSED');
    expect(await registry.select('edge', undefined, 'e-t1', 60_000)).toEqual({
      pool: 'edge',
      instanceId: 'e2',
    });
    expect(await registry.select('edge', undefined, 'e-t2', 60_000)).toBeNull();
    expect(await registry.select('edge', 'e1', 'e-t3', 60_000)).toBeNull();
    expect(await registry.capacity('edge')).toEqual({ pool: 'edge', total: 1, active: 1, available: 0 });
    const edge = await scanners.poolStatus('edge');
    expect(edge).toMatchObject({ total_capacity: 2, total_active: 1, available_capacity: 0 });
    expect(edge.scanners.map((s) => [s.instance_id, s.healthy, s.available_capacity])).toEqual([
      ['e1', false, 1],
      ['e2', true, 0],
    ]);
  });
});

describe('ScannersService', () => {
  it('lists scanners with live capacity figures and without credentials', async () => {
    const list = await scanners.listScanners('lan');
    expect(list.total).toBe(3);
    expect(list.pools).toEqual(['lan', 'dmz', 'edge']);
    expect(list.scanners).toEqual([
      {
        scanner_type: 'nessus',
        pool: 'lan',
        instance_id: 'a',
        name: 'a',
        url: 'https://a.example:8834',
        enabled: true,
        max_concurrent_scans: 2,
        active_scans: 2,
        available_capacity: 0,
        utilization_pct: 100,
        healthy: true,
      },
      expect.objectContaining({
        instance_id: 'b',
        active_scans: 1,
        available_capacity: 0,
        utilization_pct: 100,
      }),
      expect.objectContaining({
        instance_id: 'c',
        enabled: false,
        max_concurrent_scans: 4,
        available_capacity: 0,
      }),
    ]);
    const all = JSON.stringify([
      await scanners.listScanners(),
      await scanners.listPools(),
      await scanners.poolStatus(),
    ]);
    expect(all).not.toMatch(/secret/);
  });

  it('summarises pools, counting only enabled scanners as capacity', async () => {
    const { pools, default_pool } = await scanners.listPools();
    expect(default_pool).toBe('lan');
    expect(pools.map((p) => p.name)).toEqual(['lan', 'dmz', 'edge']);
    expect(pools[0]).toEqual({
      name: 'lan',
      is_default: true,
      total_scanners: 3,
      enabled_scanners: 2,
      healthy_scanners: 2,
      total_capacity: 3,
      total_active: 3,
      available_capacity: 0,
      utilization_pct: 100,
    });
    expect(pools[1]).toMatchObject({ name: 'dmz', total_capacity: 4, total_active: 1, utilization_pct: 25 });
  });

  it('gives the status of the default pool or a named one, refusing an unknown pool', async () => {
    const status = await scanners.poolStatus();
    expect(status).toMatchObject({
      pool: 'lan',
      total_scanners: 3,
      total_capacity: 3,
      total_active: 3,
      available_capacity: 0,
      utilization_pct: 100,
    });
    expect(status.scanners).toHaveLength(3);
    await expect(scanners.poolStatus('nope')).rejects.toThrow(NotFoundError);
    await expect(scanners.poolStatus('nope')).rejects.toThrow(
      'unknown scanner pool "nope"; pools: lan, dmz, edge',
    );
    await expect(scanners.listScanners('nope')).rejects.toThrow(NotFoundError);
  });
});
