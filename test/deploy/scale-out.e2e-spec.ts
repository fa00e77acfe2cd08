import Redis from 'ioredis';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimulatorHandle } from '../../simulator/simulator';
import { writeScannersYaml } from '../support/app-harness';
import { printLogTails, startGateway, type GatewayProcess } from '../support/process-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';
import { sleep } from '../support/wait-for';

/**
 * Scale-out as deployed (SPEC §1, §4): one api process and two worker processes, each `node dist/main.js`,
 * sharing one Redis and one DATA_DIR, in front of two simulated Nessus scanners in two pools. 30 scans
 * are submitted over REST; mid-run one worker is killed with SIGKILL and a new one started. Nessus (the
 * simulator) is the witness: one scan per task, launched once, and never more scans running on a
 * scanner than its max_concurrent_scans, whichever worker launched them.
 */

const TASKS = 30;
const POOLS = [
  { pool: 'alpha', instance: 'scan-a', sim: 0, max: 3 },
  { pool: 'beta', instance: 'scan-b', sim: 1, max: 2 },
] as const;
const TERMINAL = new Set(['completed', 'failed', 'timeout', 'cancelled']);

interface TaskView {
  task_id: string;
  status: string;
  phase: string;
  scanner_pool: string;
  scanner_instance: string | null;
  nessus_scan_id: number | null;
  error?: string | null;
  results_summary: { hosts_scanned: number; total_vulnerabilities: number } | null;
}

const BUILD_LOCK = '/tmp/nmg-build.lock';
const MAIN = join(__dirname, '../../dist/main.js');

/**
 * Runs `fn` holding a shared lock on the build lock: `npm run build` (under the exclusive lock) empties
 * dist/ first, so a gateway must not start while another build runs in this checkout.
 */
async function underBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const holder = spawn('flock', ['-s', BUILD_LOCK, 'sh', '-c', 'echo locked; read _'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`flock exited with ${code}`)));
      holder.stdout!.once('data', () => resolve());
    });
    if (!existsSync(MAIN))
      throw new Error(`${MAIN} is missing: run \`flock ${BUILD_LOCK} npm run build\` first`);
    return await fn();
  } finally {
    holder.stdin!.end();
    if (holder.exitCode === null && holder.signalCode === null) {
      await new Promise((r) => holder.once('exit', r));
    }
  }
}

describe('scale-out: 1 api + 2 workers on one Redis, a worker killed and one added mid-run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmg-scale-'));
  const prefix = uniquePrefix('scale');
  const processes: GatewayProcess[] = [];
  let sim: SimulatorHandle | undefined;
  let api: GatewayProcess;
  let env: Record<string, string>;
  let passed = false;

  const startWorker = async (name: string): Promise<GatewayProcess> => {
    const w = await startGateway({ ...env, APP_MODE: 'worker' }, join(dir, `${name}.log`));
    processes.push(w);
    return w;
  };
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${api.url}${path}`);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 2, scenario: { scanDurationMs: 3000, findingsPerHost: 6 } });
    const scannerConfig = writeScannersYaml(
      dir,
      Object.fromEntries(
        POOLS.map((p) => [p.pool, [{ instance_id: p.instance, url: sim!.scanners[p.sim].url, max: p.max }]]),
      ),
    );
    env = {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: join(dir, 'tasks'),
      SCANNER_CONFIG: scannerConfig,
      POLL_INTERVAL_SECONDS: '1',
      RECONCILE_INTERVAL_SECONDS: '5',
      LOG_LEVEL: 'info',
    };
    await underBuildLock(async () => {
      api = await startGateway({ ...env, APP_MODE: 'api' }, join(dir, 'api.log'));
      processes.push(api);
      await startWorker('worker-1');
      await startWorker('worker-2');
      await Promise.all(processes.map((p) => p.ready(60_000)));
    });
  }, 120_000);

  afterAll(async () => {
    // SIGKILL: nothing of this run needs a graceful drain, and it never hangs on a stuck process.
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await sim?.stop();
    if (!passed) printLogTails(processes);
    const redis = new Redis(testRedisUrl());
    await deletePrefix(redis, prefix);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('completes 30 scans over two pools with one Nessus scan each, never exceeding a scanner capacity', async () => {
    // Sample what each scanner is running throughout the run, beside the simulator's own high-water mark.
    const peak = POOLS.map(() => 0);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        POOLS.forEach((p, i) => (peak[i] = Math.max(peak[i], sim!.control(p.sim).stats().running)));
        await sleep(100);
      }
    })();

    try {
      const submitted = await Promise.all(
        Array.from({ length: TASKS }, async (_, i) => {
          const pool = POOLS[i % POOLS.length].pool;
          const res = await fetch(`${api.url}/api/v1/scans`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `scale-${i}`, targets: `192.0.2.${i + 1}`, scanner_pool: pool }),
          });
          expect(res.status).toBe(202);
          const body = (await res.json()) as { task_id: string; scanner_pool: string };
          expect(body.scanner_pool).toBe(pool);
          return body.task_id;
        }),
      );
      expect(new Set(submitted).size).toBe(TASKS);

      // One list call per poll, as a dashboard would (one GET per task would meet the API's rate limit).
      const all = async () => {
        const { tasks } = await get<{ tasks: TaskView[] }>(`/api/v1/scans?limit=${TASKS + 10}`);
        const byId = new Map(tasks.map((t) => [t.task_id, t]));
        return submitted.map(
          (id) => byId.get(id) ?? ({ task_id: id, status: 'missing', phase: '-' } as TaskView),
        );
      };
      const waitFor = async (what: string, done: (tasks: TaskView[]) => boolean, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const tasks = await all();
          if (done(tasks)) return tasks;
          if (Date.now() > deadline) {
            const states = tasks.map((t) => `${t.task_id}:${t.status}/${t.phase}`).join(' ');
            throw new Error(`timed out waiting for ${what}; tasks: ${states}`);
          }
          await sleep(1000);
        }
      };

      // Mid-run: some scans finished, both scanners busy, others still waiting for a slot.
      await waitFor(
        'a quarter of the tasks completed',
        (tasks) => tasks.filter((t) => t.status === 'completed').length >= TASKS / 4,
        90_000,
      );
      const victim = processes[1];
      await victim.stop('SIGKILL');
      expect(victim.child.signalCode).toBe('SIGKILL');
      // It was doing its share of the work when it died.
      const victimLog = readFileSync(victim.logPath, 'utf8');
      expect(submitted.some((id) => victimLog.includes(id))).toBe(true);
      const added = await underBuildLock(async () => {
        const w = await startWorker('worker-3');
        await w.ready(60_000);
        return w;
      });

      const final = await waitFor(
        'every task terminal',
        (tasks) => tasks.every((t) => TERMINAL.has(t.status)),
        150_000,
      );

      // All completed, with results an agent can read.
      expect(
        final
          .filter((t) => t.status !== 'completed')
          .map((t) => `${t.task_id}: ${t.status} ${t.error ?? ''}`),
      ).toEqual([]);
      for (const t of final) {
        expect(t.results_summary?.hosts_scanned).toBe(1);
        const page = await get<{ vulnerabilities: unknown[]; pagination: { total_items: number } }>(
          `/api/v1/scans/${t.task_id}/results?page=0`,
        );
        expect(page.pagination.total_items).toBe(t.results_summary!.total_vulnerabilities);
        expect(page.vulnerabilities.length).toBe(page.pagination.total_items);
        expect(page.pagination.total_items).toBeGreaterThan(0);
      }

      // Nessus saw exactly one scan per task, launched once, on the scanner of the task's pool.
      POOLS.forEach((p, i) => {
        const stats = sim!.control(p.sim).stats();
        const mine = final.filter((t) => t.scanner_pool === p.pool);
        expect(mine).toHaveLength(TASKS / POOLS.length);
        expect(stats.created).toBe(mine.length);
        expect(stats.launched).toBe(mine.length);
        for (const t of mine) {
          const name = `orch-${t.task_id}`;
          expect(t.scanner_instance).toBe(p.instance);
          expect(stats.created_by_name[name]).toBe(1);
          expect(stats.scans.find((s) => s.name === name)).toMatchObject({
            id: t.nessus_scan_id,
            status: 'completed',
            launches: 1,
          });
        }
        // Capacity: never exceeded across the workers, and actually reached (the test contended for it).
        expect({ scanner: p.instance, highWater: stats.max_running }).toEqual({
          scanner: p.instance,
          highWater: p.max,
        });
        expect(peak[i]).toBeLessThanOrEqual(p.max);
      });

      // The added worker took over work: the pipeline logged steps of these tasks there.
      const addedLog = readFileSync(added.logPath, 'utf8');
      expect(submitted.some((id) => addedLog.includes(id))).toBe(true);
      passed = true;
    } finally {
      sampling = false;
      await sampler;
    }
  }, 240_000);

  it('50 identical keyed submissions spread over 3 api replicas make one task and one Nessus scan (RELIABILITY 2)', async () => {
    passed = false;
    const replicas = await underBuildLock(async () => {
      const more = [1, 2].map((n) =>
        startGateway({ ...env, APP_MODE: 'api' }, join(dir, `api-${n + 1}.log`)),
      );
      const started = await Promise.all(more);
      processes.push(...started);
      await Promise.all(started.map((p) => p.ready(60_000)));
      return [api, ...started];
    });
    const tasksDir = join(dir, 'tasks');
    const before = readdirSync(tasksDir).length;
    const body = JSON.stringify({ name: 'one of fifty', targets: '192.0.2.200', scanner_pool: 'alpha' });
    const replies = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const res = await fetch(`${replicas[i % replicas.length].url}/api/v1/scans`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'fifty-at-once' },
          body,
        });
        return {
          status: res.status,
          body: (await res.json()) as { task_id: string; idempotent_replay: boolean },
        };
      }),
    );
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 202));
    const ids = new Set(replies.map((r) => r.body.task_id));
    expect(ids.size).toBe(1);
    expect(replies.filter((r) => !r.body.idempotent_replay)).toHaveLength(1);
    expect(readdirSync(tasksDir)).toHaveLength(before + 1);

    const [taskId] = ids;
    const deadline = Date.now() + 60_000;
    while ((await get<TaskView>(`/api/v1/scans/${taskId}`)).status !== 'completed') {
      if (Date.now() > deadline) throw new Error(`task ${taskId} did not complete`);
      await sleep(500);
    }
    const stats = sim!.control(POOLS[0].sim).stats();
    expect(stats.created_by_name[`orch-${taskId}`]).toBe(1);
    expect(stats.scans.find((x) => x.name === `orch-${taskId}`)?.launches).toBe(1);
    passed = true;
  }, 120_000);
});
