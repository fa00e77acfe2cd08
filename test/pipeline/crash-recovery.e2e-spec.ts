import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { ScanSubmissionService } from '../../src/scans/scan-submission.service';
import { TaskPhase } from '../../src/tasks/task';
import { startTestApp, TestApp } from '../support/app-harness';
import { GatewayProcess, startGateway } from '../support/process-harness';
import { onPath, startPrivateRedis } from '../support/redis-harness';

const ctx = { clientId: 'anonymous', traceId: 'trace-crash' };
const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Workers are separate `node dist/main.js` processes killed with SIGKILL; the API runs in this process in
 * api mode (no consumers). The simulator's counters prove one Nessus scan, launched once, per task.
 */
describe('crash recovery across worker processes', () => {
  let sim: SimulatorHandle;
  let api: TestApp;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  const workers: GatewayProcess[] = [];
  let started = 0;
  let submit: ScanSubmissionService;
  let queries: ScanQueries;

  const startWorker = async (): Promise<GatewayProcess> => {
    const w = await startGateway(
      {
        APP_MODE: 'worker',
        REDIS_URL: api.config.redis.url,
        REDIS_PREFIX: api.prefix,
        DATA_DIR: api.dataDir,
        SCANNER_CONFIG: api.scannerConfig,
        POLL_INTERVAL_SECONDS: '1',
        RECONCILE_INTERVAL_SECONDS: '5',
      },
      // A log of its own: a later test reads what this worker alone wrote.
      join(api.dataDir, '..', `worker-${++started}.log`),
    );
    workers.push(w);
    await w.ready();
    return w;
  };
  const status = (id: string) => queries.status(id, ctx.clientId);
  const stats = () => sim.control(0).stats();

  beforeAll(async () => {
    if (!onPath('redis-server')) throw new Error('this test flushes its own Redis: install redis-server');
    redis = await startPrivateRedis();
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 3000, latencyMs: 150 } });
    api = await startTestApp(
      { APP_MODE: 'api', REDIS_URL: redis.url },
      {
        nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 4 }],
      },
    );
    submit = api.app.get(ScanSubmissionService);
    queries = api.app.get(ScanQueries);
  });

  afterAll(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    await api?.close();
    await sim?.stop();
    await redis?.stop();
  });

  const expectOneScanPerTask = (taskIds: string[]) => {
    const s = stats();
    for (const id of taskIds) {
      expect(s.created_by_name[`orch-${id}`]).toBe(1);
      expect(s.scans.find((x) => x.name === `orch-${id}`)?.launches).toBe(1);
    }
  };

  it.each<TaskPhase>(['creating', 'launching', 'scanning', 'exporting'])(
    'finishes a task whose worker was killed with SIGKILL in phase %s, with exactly one Nessus scan',
    async (phase) => {
      const worker = await startWorker();
      const res = await submit.submitUntrusted({ name: `kill-${phase}`, targets: '192.0.2.80' }, ctx);
      await until(async () => (await status(res.task_id)).phase === phase, `phase ${phase}`);
      await worker.stop('SIGKILL');
      await startWorker();
      await until(async () => TERMINAL.includes((await status(res.task_id)).status), 'a terminal state');
      expect((await status(res.task_id)).status).toBe('completed');
      expectOneScanPerTask([res.task_id]);
      for (const w of workers) await w.stop('SIGKILL');
      workers.length = 0;
    },
    120_000,
  );

  it('a worker stopped with SIGTERM mid-scan (a rolling deploy) exits at once and cleanly; the next one finishes the scan', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 8000 });
    const worker = await startWorker();
    const res = await submit.submitUntrusted({ name: 'rolling-deploy', targets: '192.0.2.82' }, ctx);
    await until(async () => (await status(res.task_id)).status === 'running', 'running');
    const stopping = Date.now();
    await worker.stop('SIGTERM');
    // Nest re-raises the signal once every module has closed (the bound would exit 1 after 25 s): well
    // within SHUTDOWN_TIMEOUT_SECONDS, as the running scan holds no job to drain.
    expect(worker.child.signalCode).toBe('SIGTERM');
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(readFileSync(worker.logPath, 'utf8')).toContain('SIGTERM: stopping');
    const next = await startWorker();
    await until(async () => TERMINAL.includes((await status(res.task_id)).status), 'a terminal state');
    expect((await status(res.task_id)).status).toBe('completed');
    expectOneScanPerTask([res.task_id]);
    // Its tracking was handed over through the watch list, not recovered from a stalled job.
    expect(readFileSync(next.logPath, 'utf8')).not.toMatch(/stalled/);
    for (const w of workers) await w.stop('SIGKILL');
    workers.length = 0;
    await sim.control(0).setScenario({ scanDurationMs: 3000 });
  }, 120_000);

  it('survives two crashes during one scan', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 15_000 });
    let worker = await startWorker();
    const res = await submit.submitUntrusted({ name: 'two-crashes', targets: '192.0.2.81' }, ctx);
    await until(async () => (await status(res.task_id)).status === 'running', 'running');
    await worker.stop('SIGKILL');
    worker = await startWorker();
    await new Promise((r) => setTimeout(r, 3000));
    await worker.stop('SIGKILL');
    await startWorker();
    await until(async () => TERMINAL.includes((await status(res.task_id)).status), 'a terminal state');
    expect((await status(res.task_id)).status).toBe('completed');
    expectOneScanPerTask([res.task_id]);
    for (const w of workers) await w.stop('SIGKILL');
    workers.length = 0;
    await sim.control(0).setScenario({ scanDurationMs: 3000 });
  }, 150_000);

  it('completes every task after Redis is flushed mid-run, and a replay of its key still gets it', async () => {
    await startWorker();
    const request = (i: number) => ({
      name: `flush-${i}`,
      targets: `192.0.2.${90 + i}`,
      idempotency_key: `flush-key-${i}`,
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await submit.submitUntrusted(request(i), ctx)).task_id);
    await until(async () => (await status(ids[0])).status === 'running', 'first running');
    const admin = new Redis(redis.url);
    await admin.flushall();
    await admin.quit();
    // The keys went with Redis; the task files bring them back before any claim.
    const replays = await Promise.all(ids.map((_, i) => submit.submitUntrusted(request(i), ctx)));
    expect(replays.map((r) => [r.task_id, r.idempotent_replay])).toEqual(ids.map((id) => [id, true]));
    await expect(submit.submitUntrusted({ ...request(0), targets: '192.0.2.99' }, ctx)).rejects.toThrow(
      /already used with a different request/,
    );
    await until(
      async () => (await Promise.all(ids.map(status))).every((t) => TERMINAL.includes(t.status)),
      'every task terminal',
    );
    expect((await Promise.all(ids.map(status))).map((t) => t.status)).toEqual(ids.map(() => 'completed'));
    const after = await submit.submitUntrusted(request(5), ctx);
    expect(after).toMatchObject({ task_id: ids[5], idempotent_replay: true, status: 'completed' });
    expectOneScanPerTask(ids);
  }, 150_000);
});
