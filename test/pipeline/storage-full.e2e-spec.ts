import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { ScanQueue } from '../../src/queue/scan-queue';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { ScanSubmissionService } from '../../src/scans/scan-submission.service';
import { newTaskId } from '../../src/tasks/task-id';
import { newTask } from '../../src/tasks/task-state-machine';
import { TasksService } from '../../src/tasks/tasks.service';
import { startTestApp, TestApp } from '../support/app-harness';
import { waitFor } from '../support/wait-for';

const ctx = { clientId: 'anonymous', traceId: 'trace-storage-full' };
// Two hosts of 300 findings with 3,000-byte plugin outputs: an export of about 2.5 MB.
const HOSTS = ['192.0.2.91', '192.0.2.92'];
const FINDINGS_PER_HOST = 300;

function mountTmpfs(dir: string, size: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `this test fills a small tmpfs mounted as DATA_DIR and needs root (CAP_SYS_ADMIN) to mount it: ${String((err as { stderr?: Buffer }).stderr ?? err)}`,
    );
  }
}

const resize = (dir: string, size: string) =>
  execFileSync('mount', ['-o', `remount,size=${size}`, dir], { stdio: 'pipe' });

/**
 * RELIABILITY 32 and the ENOSPC half of 30: the data directory fills up. DATA_DIR is a tmpfs that the
 * test resizes under an all-mode app in this process (real Redis, Bull and simulator); the simulator's
 * export and the findings store each take about 2.4 MB.
 */
describe('a full data directory (a tmpfs DATA_DIR of a few MB)', () => {
  let sim: SimulatorHandle;
  let app: TestApp;
  let base: string;
  let dataDir: string;
  let mounted = false;
  let submit: ScanSubmissionService;
  let queries: ScanQueries;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'nmg-full-'));
    dataDir = join(base, 'data');
    mkdirSync(dataDir);
    mountTmpfs(dataDir, '64m');
    mounted = true;
    sim = await startSimulator({
      scenario: {
        scanDurationMs: 0,
        exportDelayMs: 0,
        findingsPerHost: FINDINGS_PER_HOST,
        pluginOutputBytes: 3000,
      },
    });
    app = await startTestApp(
      { APP_MODE: 'all', DATA_DIR: dataDir, POLL_INTERVAL_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '3600' },
      { nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 2 }] },
    );
    submit = app.app.get(ScanSubmissionService);
    queries = app.app.get(ScanQueries);
  });

  afterAll(async () => {
    await app?.close();
    await sim?.stop();
    if (mounted) execFileSync('umount', [dataDir]);
    if (base) rmSync(base, { recursive: true, force: true });
  });

  /** The job that runs the task's chain: how many attempts failed, and why the last one did. */
  const chainJob = async (taskId: string) => {
    const queue = app.app.get(ScanQueue);
    const id = await queue.chainPointer(taskId);
    const job = id ? await queue.queue.getJob(id) : null;
    return { attemptsMade: job?.attemptsMade ?? 0, failedReason: job?.failedReason ?? '' };
  };
  const usedKb = () => {
    const { bsize, blocks, bfree } = statfsSync(dataDir);
    return Math.ceil(((blocks - bfree) * bsize) / 1024);
  };
  const files = (taskId: string) => readdirSync(join(dataDir, taskId)).sort();

  /** Submits a scan while `size` is free and waits until its step has failed twice for want of space. */
  const fillUp = async (name: string, size: string, failure: RegExp) => {
    resize(dataDir, size);
    const { task_id } = await submit.submitUntrusted({ name, targets: HOSTS.join(',') }, ctx);
    const failed = await waitFor(
      () => chainJob(task_id),
      (j) => j.attemptsMade >= 2,
      30_000,
    );
    expect(failed.failedReason).toMatch(failure);
    return task_id;
  };

  /** Frees space; the next retry completes the task with every finding, from one Nessus scan. */
  const expectCompletesOnceFreed = async (taskId: string) => {
    resize(dataDir, '64m');
    const done = await waitFor(
      () => queries.status(taskId, ctx.clientId),
      (s) => s.status === 'completed' || s.status === 'failed',
      40_000,
    );
    expect(done).toMatchObject({ status: 'completed', error: null });
    const page = await queries.results(taskId, ctx.clientId, { page_size: 1 });
    expect(page.pagination.total_items).toBe(HOSTS.length * FINDINGS_PER_HOST);
    expect(files(taskId)).toEqual(['findings.idx', 'findings.ndjson', 'scan.nessus', 'task.json']);
    const scan = sim
      .control(0)
      .stats()
      .scans.find((x) => x.name === `orch-${taskId}`);
    expect(scan?.launches).toBe(1);
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);
  };

  it('an export that does not fit is retried, leaves no partial file, and completes once there is room', async () => {
    const taskId = await fillUp(
      'export-full',
      '1m',
      /the data directory is full \(ENOSPC writing the export of scan \d+\); free space in DATA_DIR/,
    );
    // Not completed and not failed: the task waits in its export step, and nothing half-written is left.
    expect(await queries.status(taskId, ctx.clientId)).toMatchObject({
      status: 'running',
      phase: 'exporting',
    });
    expect(files(taskId)).toEqual(['task.json']);
    await expect(queries.results(taskId, ctx.clientId, {})).rejects.toThrow(/not completed|running/);
    await expectCompletesOnceFreed(taskId);
  }, 90_000);

  it('results that do not fit are retried, the task is never completed without them, and it completes once there is room', async () => {
    // Room for the 2.4 MB export, not for the findings store (about as large) beside it.
    const taskId = await fillUp(
      'results-full',
      `${usedKb() + 4096}k`,
      /the data directory is full \(ENOSPC writing the results of task [^)]+\); free space in DATA_DIR/,
    );
    expect(await queries.status(taskId, ctx.clientId)).toMatchObject({ status: 'running', phase: 'parsing' });
    // The raw export is complete under its name; no findings file is, not even a truncated one.
    expect(files(taskId)).toEqual(['scan.nessus', 'task.json']);
    await expect(queries.results(taskId, ctx.clientId, {})).rejects.toThrow(/not completed|running/);
    await expectCompletesOnceFreed(taskId);
  }, 90_000);

  /** Leaves no free byte in DATA_DIR; returns the file to remove to free it. */
  const fillToTheBrim = () => {
    resize(dataDir, `${usedKb() + 256}k`);
    const ballast = join(dataDir, 'ballast');
    expect(() => writeFileSync(ballast, Buffer.alloc(1024 * 1024))).toThrow(/ENOSPC/);
    return ballast;
  };

  it('a task-file update that does not fit leaves the old version whole and no temporary file', async () => {
    // A stored task no job drives (the reconciler waits an hour), so only this test writes it.
    const store = app.app.get(TasksService).store;
    const task = newTask({
      task_id: newTaskId(),
      name: 'update-full',
      targets: [HOSTS[0]],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: ctx.traceId,
      client_id: ctx.clientId,
    });
    await store.create(task);
    const before = readFileSync(join(dataDir, task.task_id, 'task.json'), 'utf8');
    const ballast = fillToTheBrim();

    await expect(
      store.update(task.task_id, task.version, { description: 'x'.repeat(300_000) }),
    ).rejects.toThrow(
      `the data directory is full (ENOSPC writing task ${task.task_id}); free space in DATA_DIR`,
    );
    expect(readFileSync(join(dataDir, task.task_id, 'task.json'), 'utf8')).toBe(before);
    expect(files(task.task_id)).toEqual(['task.json']);
    rmSync(ballast);
    resize(dataDir, '64m');
  });

  it('a submission while the data directory is full is a 503 with Retry-After naming the cause, and its key works once there is room', async () => {
    const ballast = fillToTheBrim();
    const post = () =>
      fetch(`${app.url}/api/v1/scans`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'while-full' },
        body: JSON.stringify({ name: 'while full', targets: HOSTS[0] }),
      });

    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /^the data directory is full \(ENOSPC writing task [^)]+\); free space in DATA_DIR$/,
    );

    rmSync(ballast);
    resize(dataDir, '64m');
    const accepted = await post();
    expect(accepted.status).toBe(202);
    const { task_id } = (await accepted.json()) as { task_id: string };
    expect(files(task_id)).toEqual(['task.json']);
  });
});
