import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { DeadLetterStore } from '../../src/queue/dead-letter.store';
import { ScanJob } from '../../src/queue/queue-names';
import { ScanQueue } from '../../src/queue/scan-queue';
import { RedisService } from '../../src/common/redis/redis.service';
import { CapacityLeases } from '../../src/scanners/capacity-leases.store';
import { NessusClients } from '../../src/scanners/nessus-clients.service';
import { nessusScanName } from '../../src/scans/scan-lifecycle.service';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { newTaskId } from '../../src/tasks/task-id';
import { newTask } from '../../src/tasks/task-state-machine';
import { TasksService } from '../../src/tasks/tasks.service';
import { Reconciler } from '../../src/worker/reconciler.service';
import { startTestApp, TestApp } from '../support/app-harness';
import { waitFor } from '../support/wait-for';

/** A new untrusted-scan task of the anonymous client, not stored yet. */
const untrustedTask = (name: string, pool: string, target: string) =>
  newTask({
    task_id: newTaskId(),
    name,
    targets: [target],
    scan_type: 'untrusted',
    scanner_pool: pool,
    trace_id: `trace-${name}`,
    client_id: 'anonymous',
  });

/**
 * A step that fails every attempt (here its one attempt: the scanner refuses connections) puts its task
 * on the dead-letter list, where it keeps its state for an operator, and says so to whoever polls it.
 */
describe('a step that fails every attempt (worker, real Redis and Bull, unreachable scanner)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // The default pool's scanner is 127.0.0.1:9, where nothing listens.
    t = await startTestApp({ APP_MODE: 'worker', RECONCILE_INTERVAL_SECONDS: '3600' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('dead-letters the task, leaves it queued, and get_scan_status says why and what an operator does', async () => {
    const tasks = t.app.get(TasksService);
    const task = untrustedTask('doomed', 'nessus', '192.0.2.44');
    await tasks.create(task);
    // Admitted by an earlier job: its create step first asks Nessus for a scan to adopt, and cannot.
    await tasks.update(task.task_id, 1, { phase: 'creating', scanner_instance: 'scanner1' });
    const jobId = `${task.task_id}:reread:v2`;
    const redis = t.app.get(RedisService);
    await redis.client.set(redis.key('chain', task.task_id), jobId);
    await t.app
      .get(ScanQueue)
      .queue.add(
        ScanJob.Advance,
        { taskId: task.task_id, traceId: task.trace_id, seq: 0 },
        { jobId, attempts: 1, removeOnFail: false },
      );

    const deadLetters = t.app.get(DeadLetterStore);
    await waitFor(() => deadLetters.has(task.task_id), Boolean, 20_000);
    const seen = await waitFor(
      () => t.app.get(ScanQueries).status(task.task_id, 'anonymous'),
      (s) => s.error !== null,
      5_000,
    );
    expect(seen).toMatchObject({ status: 'queued', phase: 'creating' });
    expect(seen.error).toMatch(
      /^its step in phase creating gave up after 1 failed attempt \(.*unreachable.*\)/,
    );
    expect(seen.error).toContain(`npm run cli -- dlq retry ${task.task_id}`);
  });
});

/**
 * A dead-lettered task has no poll to stop its scan at SCAN_TIMEOUT_SECONDS (SPEC: a scan running longer
 * is stopped on Nessus and ends `timeout`); the reconciler does it instead.
 */
describe('a dead-lettered running task past SCAN_TIMEOUT_SECONDS (worker, real Redis and Bull, simulated Nessus)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;

  beforeAll(async () => {
    sim = await startSimulator({ scenario: { scanDurationMs: 600_000 } });
    t = await startTestApp(
      { APP_MODE: 'worker', RECONCILE_INTERVAL_SECONDS: '3600', SCAN_TIMEOUT_SECONDS: '60' },
      { lab: [{ instance_id: 'sim1', url: sim.scanners[0].url }] },
    );
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  /** A task the pipeline launched on the simulator `startedAgoMs` ago, then dead-lettered. */
  async function parkedRunningTask(startedAgoMs: number): Promise<{ taskId: string; scanId: number }> {
    const tasks = t.app.get(TasksService);
    const task = untrustedTask('parked', 'lab', '192.0.2.45');
    await tasks.create(task);
    const nessus = t.app.get(NessusClients).client('sim1');
    const scanId = await nessus.createScan({ name: nessusScanName(task.task_id), targets: task.targets });
    await nessus.launchScan(scanId);
    const startedAt = new Date(Date.now() - startedAgoMs).toISOString();
    await tasks.update(task.task_id, 1, {
      status: 'running',
      phase: 'scanning',
      scanner_instance: 'sim1',
      nessus_scan_id: scanId,
      launched_at: startedAt,
      started_at: startedAt,
    });
    await t.app.get(CapacityLeases).renew('sim1', task.task_id, 600_000);
    await t.app.get(DeadLetterStore).add({
      task_id: task.task_id,
      job_id: `${task.task_id}:poll:v3`,
      error: 'gave up',
      attempts: 8,
      failed_at: new Date().toISOString(),
    });
    return { taskId: task.task_id, scanId };
  }

  it('stops its Nessus scan, ends it timeout, frees its slot and takes it off the list; one within its time stays', async () => {
    const overdue = await parkedRunningTask(2 * 60_000);
    const young = await parkedRunningTask(0);

    const report = await t.app.get(Reconciler).reconcile();

    expect(report.timed_out).toEqual([overdue.taskId]);
    const status = await t.app.get(ScanQueries).status(overdue.taskId, 'anonymous');
    expect(status).toMatchObject({
      status: 'timeout',
      error: 'scan ran longer than SCAN_TIMEOUT_SECONDS (60 s) and was stopped',
    });
    const nessus = t.app.get(NessusClients).client('sim1');
    await waitFor(
      () => nessus.getScan(overdue.scanId),
      (s) => s.state === 'canceled',
      5_000,
    );
    const deadLetters = t.app.get(DeadLetterStore);
    expect(await deadLetters.has(overdue.taskId)).toBe(false);
    expect(await t.app.get(CapacityLeases).holders('sim1')).not.toContain(overdue.taskId);

    // Within its time the parked task is the operator's: still running, listed, its slot held.
    expect(report.skipped_dead_letters).toBe(1);
    expect((await t.app.get(TasksService).get(young.taskId)).status).toBe('running');
    expect(await deadLetters.has(young.taskId)).toBe(true);
    expect(await t.app.get(CapacityLeases).holders('sim1')).toContain(young.taskId);
    expect(['pending', 'running']).toContain((await nessus.getScan(young.scanId)).state);
  });
});
