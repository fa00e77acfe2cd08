import Redis from 'ioredis';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimulatorHandle } from '../../simulator/simulator';
import type { Task } from '../../src/tasks/task';
import { sample } from '../ops/prometheus-text';
import { writeScannersYaml } from '../support/app-harness';
import { printLogTails, startGateway, type GatewayProcess } from '../support/process-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';
import { sleep } from '../support/wait-for';

const AGENTS = 20;
const PER_AGENT = 10; // the last of each agent's submissions replays its first: 1 in 10
const RATE_LIMIT = 30;
const TERMINAL = new Set(['completed', 'failed', 'timeout', 'cancelled']);

interface Reply {
  status: number;
  body: { task_id?: string; idempotent_replay?: boolean; message?: string };
}

/**
 * RELIABILITY 42: 20 agents send 200 submissions within seconds, 1 in 10 a replay of an earlier key, to
 * an api process and a worker process (`node dist/main.js`) in front of two simulated scanners that
 * answer 5 % of Nessus calls with 503 (a write's answer lost after it took effect). The simulators are
 * the witness: one Nessus scan per task, launched once.
 */
describe('a burst of keyed submissions against flaky scanners (api + worker processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmg-burst-'));
  const dataDir = join(dir, 'tasks');
  const prefix = uniquePrefix('burst');
  const tokens = Array.from({ length: AGENTS }, (_, i) => `burst-agent-${i}-token-0123456789`);
  const ops = 'burst-ops-token-0123456789';
  const processes: GatewayProcess[] = [];
  let sim: SimulatorHandle;
  let api: GatewayProcess;
  let passed = false;

  const submit = async (token: string, key: string, target: string): Promise<Reply> => {
    const res = await fetch(`${api.url}/api/v1/scans`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({ name: `burst ${key}`, targets: target }),
    });
    return { status: res.status, body: (await res.json()) as Reply['body'] };
  };
  const storedTasks = (): Task[] =>
    readdirSync(dataDir)
      .filter((n) => n.startsWith('ne_scan_'))
      .map((n) => JSON.parse(readFileSync(join(dataDir, n, 'task.json'), 'utf8')) as Task);
  const waitingTasks = async (): Promise<number> => {
    const res = await fetch(`${api.url}/metrics`, { headers: { Authorization: `Bearer ${ops}` } });
    return sample(await res.text(), 'nmg_pool_waiting_tasks', { pool: 'nessus' }) ?? 0;
  };

  beforeAll(async () => {
    sim = await startSimulator({
      scanners: 2,
      scenario: { scanDurationMs: 500, exportDelayMs: 0, findingsPerHost: 3, errorRate: 0.05 },
    });
    const env = {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: dataDir,
      SCANNER_CONFIG: writeScannersYaml(dir, {
        nessus: sim.scanners.map((s, i) => ({ instance_id: `flaky-${i + 1}`, url: s.url, max: 10 })),
      }),
      API_KEYS: [...tokens.map((t, i) => `agent${i}:${t}`), `ops:${ops}`].join(','),
      RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
      POLL_INTERVAL_SECONDS: '1',
      RECONCILE_INTERVAL_SECONDS: '5',
    };
    api = await startGateway({ ...env, APP_MODE: 'api' }, join(dir, 'api.log'));
    processes.push(api, await startGateway({ ...env, APP_MODE: 'worker' }, join(dir, 'worker.log')));
    await Promise.all(processes.map((p) => p.ready(60_000)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await sim?.stop();
    if (!passed) printLogTails(processes);
    const redis = new Redis(testRedisUrl());
    await deletePrefix(redis, prefix);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('makes one task and one Nessus scan per key, completes every task, and engages the rate limit', async () => {
    const started = Date.now();
    let queueSeen = 0;
    const sampling = (async () => {
      while (Date.now() - started < 8_000) {
        queueSeen = Math.max(queueSeen, await waitingTasks());
        await sleep(250);
      }
    })();
    const replies = await Promise.all(
      tokens.map(async (token, a) => {
        const mine: Array<Reply & { key: string }> = [];
        for (let i = 0; i < PER_AGENT; i++) {
          const n = i === PER_AGENT - 1 ? 0 : i;
          const key = `agent${a}-scan${n}`;
          mine.push({ key, ...(await submit(token, key, `192.0.2.${a * PER_AGENT + n + 1}`)) });
        }
        return mine;
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const all = replies.flat();
    expect(all.filter((r) => r.status !== 202)).toEqual([]);
    // 200 submissions in a few seconds: far more than 1,000 a minute.
    expect(all.length / seconds).toBeGreaterThan(1000 / 60);
    for (const mine of replies) {
      const [first, replay] = [mine[0], mine[PER_AGENT - 1]];
      expect(replay.body).toMatchObject({ task_id: first.body.task_id, idempotent_replay: true });
      expect(mine.filter((r) => !r.body.idempotent_replay)).toHaveLength(PER_AGENT - 1);
    }
    const taskIds = new Set(all.map((r) => r.body.task_id!));
    expect(taskIds.size).toBe(AGENTS * (PER_AGENT - 1));
    await sampling;
    // The backlog was visible while it lasted (two scanners of 10 slots for 180 scans).
    expect(queueSeen).toBeGreaterThan(0);

    // One agent past RATE_LIMIT_PER_MINUTE: refused with Retry-After, the others unaffected.
    const greedy = await Promise.all(
      Array.from({ length: RATE_LIMIT }, () =>
        fetch(`${api.url}/api/v1/scans?limit=1`, { headers: { Authorization: `Bearer ${tokens[0]}` } }),
      ),
    );
    const limited = greedy.filter((r) => r.status === 429);
    // Its 10 submissions count too: the last 10 of these 30 are over the limit.
    expect(limited).toHaveLength(PER_AGENT);
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (await fetch(`${api.url}/api/v1/scans?limit=1`, { headers: { Authorization: `Bearer ${tokens[1]}` } }))
        .status,
    ).toBe(200);

    const deadline = Date.now() + 150_000;
    while (storedTasks().some((t) => !TERMINAL.has(t.status))) {
      if (Date.now() > deadline) throw new Error('tasks still unfinished after 150 s');
      await sleep(1000);
    }
    const tasks = storedTasks();
    expect(tasks).toHaveLength(taskIds.size);
    expect(tasks.filter((t) => t.status !== 'completed').map((t) => [t.task_id, t.status, t.error])).toEqual(
      [],
    );

    const stats = sim.scanners.map((_, i) => sim.control(i).stats());
    // The premise: the scanners failed calls, and some creates took effect with their answer lost.
    expect(stats.reduce((n, s) => n + s.injected_errors, 0)).toBeGreaterThan(20);
    expect(readFileSync(join(dir, 'worker.log'), 'utf8')).toMatch(
      /adopted Nessus scan \d+, created by an earlier try/,
    );
    for (const t of tasks) {
      const name = `orch-${t.task_id}`;
      expect(stats.reduce((n, s) => n + (s.created_by_name[name] ?? 0), 0)).toBe(1);
      expect(stats.flatMap((s) => s.scans.filter((x) => x.name === name)).map((x) => x.launches)).toEqual([
        1,
      ]);
    }
    passed = true;
  }, 240_000);
});
