import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { RedisService } from '../../src/common/redis/redis.service';
import { AppConfig } from '../../src/config/app-config';
import { CapacityLeases } from '../../src/scanners/capacity-leases.store';
import type { Candidate } from '../../src/scanners/round-robin';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';
import { sleep } from '../support/wait-for';

const CHILD = join(__dirname, 'lease-child.ts');

interface Child {
  proc: ChildProcess;
  /** The next JSON line the child prints. */
  next(): Promise<Record<string, unknown>>;
}

const prefix = uniquePrefix('capacity');
const children: Child[] = [];
let redis: RedisService;
let leases: CapacityLeases;
let raw: Redis;

function startChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', CHILD], {
    cwd: join(__dirname, '../..'),
    env: { ...process.env, LOG_LEVEL: 'warn', NMG_REDIS_URL: testRedisUrl(), NMG_PREFIX: prefix, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  lines.on('line', (line) => {
    if (!line.startsWith('{')) return;
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  const child: Child = {
    proc,
    next: () =>
      new Promise((resolve, reject) => {
        const take = (line: string) => resolve(JSON.parse(line) as Record<string, unknown>);
        const q = queue.shift();
        if (q !== undefined) return take(q);
        waiters.push(take);
        proc.once('exit', (code, signal) => {
          if (code !== 0) reject(new Error(`child exited ${code ?? signal}: ${stderr}`));
        });
      }),
  };
  children.push(child);
  return child;
}

async function stopChild(child: Child, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { proc } = child;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  process.kill(proc.pid!, signal);
  await exited;
}

beforeAll(async () => {
  redis = new RedisService(AppConfig.fromEnv({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix }));
  if (redis.client.status !== 'ready') await once(redis.client, 'ready');
  leases = new CapacityLeases(redis);
  raw = redis.client;
}, 30_000);

afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c, 'SIGKILL')));
  await deletePrefix(raw, prefix);
  await redis.onApplicationShutdown();
}, 30_000);

describe('CapacityLeases across processes', () => {
  it('three competing processes never hold more leases than a scanner allows, and spread over the pool', async () => {
    const candidates: Candidate[] = [
      { instanceId: 'cap-a', max: 2 },
      { instanceId: 'cap-b', max: 1 },
    ];
    const workers = [0, 1, 2].map(() =>
      startChild({
        NMG_MODE: 'compete',
        NMG_POOL: 'cap',
        NMG_CANDIDATES: JSON.stringify(candidates),
        NMG_LOOPS: '4',
        NMG_TASKS: '40',
      }),
    );
    for (const w of workers) expect(await w.next()).toEqual({ ready: true });
    const results = Promise.all(workers.map((w) => w.next()));
    let done = false;
    void results.finally(() => (done = true));
    for (const w of workers) w.proc.stdin!.write('go\n');

    const keyA = redis.key('leases', 'cap-a');
    const keyB = redis.key('leases', 'cap-b');
    const peak = { a: 0, b: 0, sum: 0 };
    let samples = 0;
    while (!done) {
      // One MULTI reads both sets at one instant, expired members included: a strict check.
      const [[, a], [, b]] = (await raw.multi().zcard(keyA).zcard(keyB).exec()) as [
        [null, number],
        [null, number],
      ];
      peak.a = Math.max(peak.a, a);
      peak.b = Math.max(peak.b, b);
      peak.sum = Math.max(peak.sum, a + b);
      samples++;
    }
    const acquired = (await results).map((r) => r.acquired as Record<string, number>);

    expect(samples).toBeGreaterThan(20);
    expect(peak.a).toBeLessThanOrEqual(2);
    expect(peak.b).toBeLessThanOrEqual(1);
    expect(peak.sum).toBeLessThanOrEqual(3);
    // Twelve loops wanted leases at once: the pool was saturated, so the bound above was really tested.
    expect(peak.sum).toBe(3);

    const total = { a: 0, b: 0 };
    for (const r of acquired) {
      total.a += r['cap-a'] ?? 0;
      total.b += r['cap-b'] ?? 0;
    }
    expect(total.a + total.b).toBe(3 * 4 * 40);
    expect(total.a).toBeGreaterThan(480 * 0.2);
    expect(total.b).toBeGreaterThan(480 * 0.15);
    expect(await leases.activeByInstance(['cap-a', 'cap-b'])).toEqual({ 'cap-a': 0, 'cap-b': 0 });
  }, 120_000);

  it('recovers the lease of a killed holder after its TTL, never the lease of a holder that renews', async () => {
    const candidates = JSON.stringify([{ instanceId: 'rec-1', max: 2 }]);
    const holder = (task: string) =>
      startChild({
        NMG_MODE: 'hold',
        NMG_POOL: 'rec',
        NMG_CANDIDATES: candidates,
        NMG_TASK: task,
        NMG_TTL_MS: '1500',
        NMG_RENEW_MS: '200',
      });
    const live = holder('task-live');
    const dead = holder('task-dead');
    expect(await live.next()).toEqual({ holding: 'rec-1' });
    expect(await dead.next()).toEqual({ holding: 'rec-1' });
    const pool = [{ instanceId: 'rec-1', max: 2 }];
    expect(await leases.acquire('rec', pool, 'task-new', 60_000)).toBeNull();

    await stopChild(dead, 'SIGKILL');
    let got: string | null = null;
    const seen: string[][] = [];
    for (let i = 0; i < 150 && got === null; i++) {
      seen.push(await leases.holders('rec-1'));
      got = await leases.acquire('rec', pool, 'task-new', 60_000);
      if (got === null) await sleep(100);
    }
    expect(got).toBe('rec-1');
    // The renewed lease was held at every look while the dead one ran out.
    expect(seen.every((h) => h.includes('task-live'))).toBe(true);
    expect((await leases.holders('rec-1')).sort()).toEqual(['task-live', 'task-new']);
    expect(await leases.acquire('rec', pool, 'task-other', 60_000)).toBeNull();
    await stopChild(live);
  }, 60_000);
});

describe('CapacityLeases in one process', () => {
  it('chooses round-robin after the last choice, skipping full scanners', async () => {
    const pool: Candidate[] = [
      { instanceId: 'rr-a', max: 2 },
      { instanceId: 'rr-b', max: 1 },
    ];
    const picks = [];
    for (const t of ['t1', 't2', 't3', 't4']) picks.push(await leases.acquire('rr', pool, t, 60_000));
    expect(picks).toEqual(['rr-a', 'rr-b', 'rr-a', null]);
    expect(await leases.release('rr-b', 't2')).toBe(true);
    expect(await leases.release('rr-b', 't2')).toBe(false);
    expect(await leases.acquire('rr', pool, 't5', 60_000)).toBe('rr-b');
    expect(await leases.activeByInstance(['rr-a', 'rr-b'])).toEqual({ 'rr-a': 2, 'rr-b': 1 });
  });

  it('gives a task that asks again the lease it already holds (a retried step)', async () => {
    const pool: Candidate[] = [
      { instanceId: 'id-a', max: 1 },
      { instanceId: 'id-b', max: 1 },
    ];
    expect(await leases.acquire('idem', pool, 'same', 60_000)).toBe('id-a');
    expect(await leases.acquire('idem', pool, 'same', 60_000)).toBe('id-a');
    expect(await leases.activeByInstance(['id-a', 'id-b'])).toEqual({ 'id-a': 1, 'id-b': 0 });
  });

  it('lets a running scan whose lease lapsed keep its place on renew, and says it had lapsed', async () => {
    const pool: Candidate[] = [{ instanceId: 'lapse-1', max: 1 }];
    expect(await leases.acquire('lapse', pool, 'slow', 100)).toBe('lapse-1');
    expect(await leases.renew('lapse-1', 'slow', 60_000)).toBe(false);
    await leases.renew('lapse-1', 'slow', 50);
    await sleep(120);
    expect(await leases.active('lapse-1')).toBe(0);
    expect(await leases.acquire('lapse', pool, 'newcomer', 60_000)).toBe('lapse-1');
    expect(await leases.renew('lapse-1', 'slow', 60_000)).toBe(true);
    expect(await leases.active('lapse-1')).toBe(2);
    expect(await leases.acquire('lapse', pool, 'third', 60_000)).toBeNull();
  });

  it('returns null for a pool without candidates', async () => {
    expect(await leases.acquire('empty', [], 'x', 1000)).toBeNull();
  });
});
