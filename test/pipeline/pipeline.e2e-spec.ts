import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { ActiveTaskQuota } from '../../src/scans/active-task-quota';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { ScanSubmissionService, SubmitResponse } from '../../src/scans/scan-submission.service';
import { startTestApp, TestApp } from '../support/app-harness';
import { waitFor } from '../support/wait-for';

const ctx = { clientId: 'anonymous', traceId: 'trace-pipeline-1' };

describe('scan pipeline (one process, real Redis, simulator)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;
  let submit: ScanSubmissionService;
  let queries: ScanQueries;

  const status = (id: string) => queries.status(id, ctx.clientId);
  const terminal = (s: { status: string }) =>
    ['completed', 'failed', 'timeout', 'cancelled'].includes(s.status);
  const scan = (name: string, targets: string, pool?: string): Promise<SubmitResponse> =>
    submit.submitUntrusted({ name, targets, scanner_pool: pool }, ctx);

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 3, scenario: { scanDurationMs: 1500, findingsPerHost: 12 } });
    t = await startTestApp(
      { APP_MODE: 'all', POLL_INTERVAL_SECONDS: '1', SCAN_TIMEOUT_SECONDS: '20' },
      {
        main: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 2 }],
        side: [{ instance_id: 'scanner2', url: sim.scanners[1].url, max: 1 }],
        slow: [{ instance_id: 'scanner3', url: sim.scanners[2].url, max: 1 }],
      },
    );
    submit = t.app.get(ScanSubmissionService);
    queries = t.app.get(ScanQueries);
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  beforeEach(async () => {
    for (let i = 0; i < 3; i++) await sim.control(i).reset();
  });

  it('runs a submitted scan to completed, with the export and findings on disk and one Nessus scan', async () => {
    const quota = t.app.get(ActiveTaskQuota);
    const res = await scan('single', '192.0.2.10, 192.0.2.11');
    expect(res).toMatchObject({ status: 'queued', scanner_pool: 'main', idempotent_replay: false });
    expect((await quota.places(ctx.clientId)).has(res.task_id)).toBe(true);
    const done = await waitFor(() => status(res.task_id), terminal);
    expect(done).toMatchObject({
      status: 'completed',
      phase: 'done',
      progress: 100,
      scanner_instance: 'scanner1',
    });
    expect(done.results_summary!.hosts_scanned).toBe(2);
    expect(done.results_summary!.total_vulnerabilities).toBe(24);
    const dir = join(t.dataDir, res.task_id);
    expect(existsSync(join(dir, 'task.json'))).toBe(true);
    expect(existsSync(join(dir, 'scan.nessus'))).toBe(true);
    const stats = sim.control(0).stats();
    expect(stats.created_by_name[`orch-${res.task_id}`]).toBe(1);
    expect(stats.scans.find((s) => s.name === `orch-${res.task_id}`)?.launches).toBe(1);
    // A completed task no longer counts against its client's MAX_ACTIVE_TASKS_PER_CLIENT (settled just after).
    await waitFor(
      () => quota.places(ctx.clientId),
      (held) => !held.has(res.task_id),
    );
  });

  it('keeps a third scan queued on a pool of capacity two, then runs it', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 3000 });
    const subs = [
      await scan('a', '192.0.2.21'),
      await scan('b', '192.0.2.22'),
      await scan('c', '192.0.2.23'),
    ];
    await waitFor(
      () => status(subs[0].task_id),
      (s) => s.status === 'running',
    );
    await waitFor(
      () => status(subs[1].task_id),
      (s) => s.status === 'running',
    );
    expect(await status(subs[2].task_id)).toMatchObject({ status: 'queued', phase: 'waiting_for_scanner' });
    const finals = await Promise.all(subs.map((s) => waitFor(() => status(s.task_id), terminal)));
    expect(finals.map((f) => f.status)).toEqual(['completed', 'completed', 'completed']);
    expect(sim.control(0).stats().max_running).toBeLessThanOrEqual(2);
  });

  it('never delays a pool because another one is full', async () => {
    await sim.control(2).setScenario({ scanDurationMs: 60_000 });
    const blocker = await scan('slow-1', '192.0.2.31', 'slow');
    await waitFor(
      () => status(blocker.task_id),
      (s) => s.status === 'running',
    );
    const stuck = await scan('slow-2', '192.0.2.32', 'slow');
    expect(stuck.queue_position).toBe(1);
    const other = await scan('side-1', '192.0.2.33', 'side');
    const done = await waitFor(() => status(other.task_id), terminal);
    expect(done.status).toBe('completed');
    expect((await status(stuck.task_id)).status).toBe('queued');
    await queries.cancel(stuck.task_id, ctx.clientId);
    await queries.cancel(blocker.task_id, ctx.clientId);
  });

  it('cancels a queued task at once and stops a running one on Nessus', async () => {
    await sim.control(2).setScenario({ scanDurationMs: 60_000 });
    const running = await scan('to-cancel-running', '192.0.2.41', 'slow');
    await waitFor(
      () => status(running.task_id),
      (s) => s.status === 'running',
    );
    const queued = await scan('to-cancel-queued', '192.0.2.42', 'slow');
    expect((await queries.cancel(queued.task_id, ctx.clientId)).status).toBe('cancelled');
    expect((await queries.cancel(running.task_id, ctx.clientId)).status).toBe('cancelled');
    const stats = sim.control(2).stats();
    expect(stats.stopped).toBe(1);
    expect(stats.created_by_name[`orch-${queued.task_id}`]).toBeUndefined();
    await expect(queries.cancel(running.task_id, ctx.clientId)).rejects.toThrow(/cancelled, a final state/);
  });

  it('ends a scan that Nessus aborts as failed with the reason', async () => {
    await sim.control(1).setScenario({ scanDurationMs: 10_000, abortAfterMs: 500 });
    const res = await scan('aborted', '192.0.2.51', 'side');
    const done = await waitFor(() => status(res.task_id), terminal);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/aborted/);
  });

  it('stops a scan that runs past SCAN_TIMEOUT_SECONDS and ends it timeout', async () => {
    // 20 s timeout from the app config; the scan would take a minute.
    await sim.control(1).setScenario({ scanDurationMs: 60_000 });
    const res = await scan('too-long', '192.0.2.61', 'side');
    const done = await waitFor(() => status(res.task_id), terminal, 40_000);
    expect(done.status).toBe('timeout');
    expect(done.error).toMatch(/SCAN_TIMEOUT_SECONDS/);
    await waitFor(
      async () => sim.control(1).stats().stopped,
      (n) => n === 1,
    );
  }, 60_000);
});
