import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { ScanQueue } from '../../src/queue/scan-queue';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { ScanSubmissionService } from '../../src/scans/scan-submission.service';
import { TasksService } from '../../src/tasks/tasks.service';
import { Reconciler } from '../../src/worker/reconciler.service';
import { startTestApp, TestApp } from '../support/app-harness';
import { sleep, waitFor } from '../support/wait-for';

const ctx = { clientId: 'anonymous', traceId: 'trace-chain-restart' };

/**
 * A task's chain is started again by a wake (a lease was freed), the reconciler or a dead-letter retry.
 * The new chain's later steps must not reuse the job ids of the old chain's: Bull keeps finished jobs
 * for an hour and ignores an add under a finished job's id, which would end the new chain at once.
 */
describe('a restarted chain goes on (one process, real Redis and Bull, simulator)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;
  let scanQueue: ScanQueue;

  const submit = (name: string, targets: string) =>
    t.app.get(ScanSubmissionService).submitUntrusted({ name, targets }, ctx);

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 6 * 3600_000 } });
    t = await startTestApp(
      { APP_MODE: 'all', POLL_INTERVAL_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '3600' },
      { nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 1 }] },
    );
    scanQueue = t.app.get(ScanQueue);
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  it('keeps a waiting task trying after a wake that could not admit it, and runs it once there is room', async () => {
    const tasks = t.app.get(TasksService);
    const running = await submit('holds-the-slot', '192.0.2.81');
    await waitFor(
      () => tasks.get(running.task_id),
      (task) => task.status === 'running',
    );
    const waiting = await submit('waits', '192.0.2.82');
    // Its first chain has tried to be admitted a few times (admit:v1:1, admit:v1:2…).
    await sleep(3500);
    // What a freed lease does for the head of the line; here the slot is still taken.
    await scanQueue.restart({ taskId: waiting.task_id, traceId: ctx.traceId }, 'wake');
    await sleep(3500);
    expect((await scanQueue.chainStatus(waiting.task_id)).live).toBe(true);
    const reconciler = t.app.get(Reconciler);
    reconciler.settleMs = 200;
    expect((await reconciler.reconcile()).reseeded).toEqual([]);

    // The slot frees: the waiting task runs.
    await t.app.get(ScanQueries).cancel(running.task_id, ctx.clientId);
    await waitFor(
      () => tasks.get(waiting.task_id),
      (task) => task.status === 'running',
      20_000,
    );
  });
});
