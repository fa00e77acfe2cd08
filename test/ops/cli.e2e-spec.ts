import { Test, TestingModule } from '@nestjs/testing';
import Redis from 'ioredis';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { PURGE_ERROR } from '../../src/cli/dlq.command';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { DeadLetterStore } from '../../src/queue/dead-letter.store';
import { QueueModule } from '../../src/queue/queue.module';
import { ScanQueue } from '../../src/queue/scan-queue';
import { WaitingLine } from '../../src/queue/waiting-line';
import { Task, TaskStatus } from '../../src/tasks/task';
import { newTaskId } from '../../src/tasks/task-id';
import { applyUpdate, newTask } from '../../src/tasks/task-state-machine';
import { TasksModule } from '../../src/tasks/tasks.module';
import { TasksService } from '../../src/tasks/tasks.service';
import { freePort } from '../support/redis-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

const ROOT = resolve(__dirname, '../..');
/** The built CLI, which `npm run cli` runs (`npm test` builds first). */
const CLI_MAIN = join(ROOT, 'dist/cli/main.js');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('admin CLI (child processes, real Redis, simulator)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let prefix: string;
  let env: Record<string, string>;
  let moduleRef: TestingModule;
  let tasks: TasksService;
  let deadLetters: DeadLetterStore;
  let scanQueue: ScanQueue;
  let waiting: WaitingLine;
  let serial = 0;

  function yaml(entries: { id: string; pool: string; url: string; password?: string }[]): string {
    const pools = [...new Set(entries.map((e) => e.pool))];
    const lines = pools.flatMap((pool) => [
      `${pool}:`,
      ...entries
        .filter((e) => e.pool === pool)
        .flatMap((e) => [
          `  - instance_id: ${e.id}`,
          `    name: "${e.id}"`,
          `    url: ${e.url}`,
          '    username: nessus',
          `    password: ${e.password ?? 'nessus'}`,
          '    max_concurrent_scans: 2',
        ]),
    ]);
    const path = join(dir, `scanners-${serial++}.yaml`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  }

  function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [CLI_MAIN, ...args],
        { cwd: ROOT, env: { ...process.env, ...env, ...extraEnv }, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: number }).code ?? -1) : 0;
          done({ code: typeof code === 'number' ? code : -1, stdout, stderr });
        },
      );
    });
  }

  const json = async (args: string[]) => {
    const run = await cli([...args, '--json']);
    // stderr is in the comparison so a failure shows it; warnings may appear there, errors may not.
    expect({ code: run.code, stderr: run.stderr }).toEqual({
      code: 0,
      stderr: expect.not.stringContaining('error'),
    });
    return JSON.parse(run.stdout) as Record<string, unknown>;
  };

  /** A task stored as if it had reached `status`, created `serial` seconds apart. */
  async function craft(status: TaskStatus, pool = 'main'): Promise<Task> {
    const created = new Date(Date.UTC(2026, 0, 1, 0, 0, serial++));
    let task = newTask(
      {
        task_id: newTaskId(created),
        name: `cli-${status}`,
        targets: ['192.0.2.7'],
        scan_type: 'untrusted',
        scanner_pool: pool,
        trace_id: `trace-${serial}`,
        client_id: 'client-a',
      },
      created,
    );
    if (status !== 'queued') {
      task = applyUpdate(
        task,
        { status: 'running', scanner_instance: 'scanner1', nessus_scan_id: 9 },
        created,
      );
      if (status !== 'running') task = applyUpdate(task, { status }, created);
    }
    expect(await tasks.create(task)).toBe('created');
    return task;
  }

  async function deadLetter(taskId: string): Promise<void> {
    await deadLetters.add({
      task_id: taskId,
      job_id: `${taskId}:poll:v3:0`,
      error: 'scanner1: get scan 9 failed: HTTP 500',
      attempts: 8,
      failed_at: new Date().toISOString(),
    });
  }

  beforeAll(async () => {
    if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: run \`npm run build\` first`);
    sim = await startSimulator({ scanners: 1 });
    dir = mkdtempSync(join(tmpdir(), 'nmg-cli-'));
    prefix = uniquePrefix('cli');
    env = {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: join(dir, 'tasks'),
      SCANNER_CONFIG: '',
      LOG_LEVEL: 'info',
    };
    env.SCANNER_CONFIG = yaml([
      { id: 'scanner1', pool: 'main', url: sim.scanners[0].url },
      { id: 'scanner2', pool: 'side', url: sim.scanners[0].url },
    ]);
    const config = AppConfig.fromEnv(env);
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, QueueModule, TasksModule],
    }).compile();
    tasks = moduleRef.get(TasksService);
    deadLetters = moduleRef.get(DeadLetterStore);
    scanQueue = moduleRef.get(ScanQueue);
    waiting = moduleRef.get(WaitingLine);
    const redis = moduleRef.get(RedisService);
    if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
    await scanQueue.queue.isReady();
  });

  afterAll(async () => {
    await moduleRef?.close();
    const r = new Redis(testRedisUrl());
    await deletePrefix(r, prefix);
    await r.quit();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('task list and task show report stored tasks; an unknown task exits 1', async () => {
    const done = await craft('completed');
    const queued = await craft('queued', 'side');
    const all = await json(['task', 'list']);
    expect((all.tasks as { task_id: string }[]).map((t) => t.task_id)).toEqual(
      expect.arrayContaining([done.task_id, queued.task_id]),
    );
    const side = await json(['task', 'list', '--pool', 'side', '--status', 'queued']);
    expect(side).toMatchObject({ total: 1, tasks: [{ task_id: queued.task_id, status: 'queued' }] });

    const shown = await json(['task', 'show', done.task_id]);
    expect(shown).toMatchObject({ task_id: done.task_id, status: 'completed', client_id: 'client-a' });
    expect((shown.history as { to: string }[]).map((h) => h.to)).toEqual(['queued', 'running', 'completed']);

    const human = await cli(['task', 'show', done.task_id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^task: +${done.task_id}$`, 'm'));
    expect(human.stdout).toMatch(/^status: +completed \(done, 100%\)$/m);

    const missing = await cli(['task', 'show', 'ne_scan_20260101_000000_ffffffff']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain('not found');
  });

  it('queue stats shows each pool’s waiting line, capacity and the dead-letter count', async () => {
    const t = await craft('queued', 'side');
    await waiting.join('side', t.task_id, Date.parse(t.created_at));
    const stats = await json(['queue', 'stats']);
    const pools = stats.pools as { pool: string; waiting: number; capacity: number; available: number }[];
    expect(pools.map((p) => p.pool)).toEqual(['main', 'side']);
    expect(pools.find((p) => p.pool === 'side')).toMatchObject({ waiting: 1, capacity: 2, available: 2 });
    expect(stats.jobs).toEqual(
      expect.objectContaining({ waiting: expect.any(Number), failed: expect.any(Number) }),
    );
    const one = await json(['queue', 'stats', '--pool', 'side']);
    expect((one.pools as unknown[]).length).toBe(1);
    const human = await cli(['queue', 'stats']);
    expect(human.stdout).toMatch(/^side +1 +0 +2 +2$/m);
    await waiting.leave('side', t.task_id);

    const bad = await cli(['queue', 'stats', '--pool', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown pool "nope"; pools: main, side');
  });

  it('dlq list, inspect and retry: the task leaves the list and gets a fresh job', async () => {
    const crafted = await craft('running');
    // The note a worker leaves on a task it dead-letters; a retry takes it away.
    const stuck = await tasks.update(crafted.task_id, crafted.version, {
      error: 'its step … dead-letter list',
    });
    await deadLetter(stuck.task_id);
    const list = await json(['dlq', 'list']);
    expect((list.entries as { task_id: string }[]).map((e) => e.task_id)).toContain(stuck.task_id);
    const inspected = await json(['dlq', 'inspect', stuck.task_id]);
    expect(inspected).toMatchObject({
      entry: { task_id: stuck.task_id, attempts: 8 },
      task: { task_id: stuck.task_id, status: 'running' },
    });

    const retried = await json(['dlq', 'retry', stuck.task_id]);
    expect(retried).toMatchObject({ task_id: stuck.task_id, retried: true });
    expect(await deadLetters.has(stuck.task_id)).toBe(false);
    expect(await tasks.get(stuck.task_id)).toMatchObject({ status: 'running', error: null });
    const job = await scanQueue.queue.getJob(retried.job_id as string);
    // A chain of its own: its later steps never reuse the ids of the dead chain's jobs.
    expect(job?.data).toEqual({
      taskId: stuck.task_id,
      traceId: stuck.trace_id,
      seq: 0,
      chain: expect.any(String),
    });
    expect(retried.job_id).toBe(`${stuck.task_id}:dlq-retry:${job?.data.chain}`);
    expect(await job?.getState()).toBe('waiting');

    const again = await cli(['dlq', 'retry', stuck.task_id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not on the dead-letter list');
  });

  it('dlq purge needs --yes, then fails the unfinished dead-lettered tasks and empties the list', async () => {
    const queued = await craft('queued');
    const running = await craft('running');
    const finished = await craft('completed');
    for (const t of [queued, running, finished]) await deadLetter(t.task_id);

    const unconfirmed = await cli(['dlq', 'purge']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('add --yes');
    expect(await deadLetters.size()).toBe(3);

    const purged = await json(['dlq', 'purge', '--yes']);
    expect(purged.total).toBe(3);
    expect(await deadLetters.size()).toBe(0);
    for (const t of [queued, running]) {
      expect(await tasks.get(t.task_id)).toMatchObject({ status: 'failed', error: PURGE_ERROR });
    }
    expect((await tasks.get(finished.task_id)).status).toBe('completed');
    expect(await json(['dlq', 'list'])).toEqual({ entries: [], total: 0 });
  });

  it('reconcile re-seeds an unfinished task that has no job, and skips dead-lettered ones', async () => {
    const orphan = await craft('queued');
    const parked = await craft('queued');
    await deadLetter(parked.task_id);
    const report = await json(['reconcile']);
    expect(report.reseeded).toContain(orphan.task_id);
    expect(report.reseeded).not.toContain(parked.task_id);
    expect(report.skipped_dead_letters).toBeGreaterThanOrEqual(1);
    expect((await scanQueue.chainStatus(orphan.task_id)).live).toBe(true);
    const second = await json(['reconcile']);
    expect(second.reseeded).not.toContain(orphan.task_id);
    await deadLetters.remove(parked.task_id);
  });

  it('scanners check reports version and auth, and exits 1 when an enabled scanner is unreachable or refuses', async () => {
    const healthy = await json(['scanners', 'check']);
    expect(healthy.ok).toBe(true);
    expect(healthy.scanners).toEqual([
      expect.objectContaining({
        instance_id: 'scanner1',
        reachable: true,
        auth: 'ok',
        status: 'ready',
        version: expect.any(String),
      }),
      expect.objectContaining({ instance_id: 'scanner2', reachable: true, auth: 'ok' }),
    ]);

    const closed = await freePort();
    const broken = await cli(['scanners', 'check', '--json'], {
      SCANNER_CONFIG: yaml([
        { id: 'good', pool: 'main', url: sim.scanners[0].url },
        { id: 'badpass', pool: 'main', url: sim.scanners[0].url, password: 'wrong-password' },
        { id: 'gone', pool: 'main', url: `http://127.0.0.1:${closed}` },
      ]),
    });
    expect(broken.code).toBe(1);
    expect(broken.stdout).not.toContain('wrong-password');
    const report = JSON.parse(broken.stdout) as { ok: boolean; scanners: Record<string, unknown>[] };
    expect(report.ok).toBe(false);
    expect(report.scanners).toEqual([
      expect.objectContaining({ instance_id: 'good', reachable: true, auth: 'ok' }),
      expect.objectContaining({ instance_id: 'badpass', reachable: true, auth: 'failed' }),
      expect.objectContaining({ instance_id: 'gone', reachable: false, auth: 'unknown' }),
    ]);
  });

  it('exits 2 on usage errors and a bad environment, 1 when Redis is unreachable', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['task', 'list', '--limit', 'many'])).code).toBe(2);
    const badTarget = await cli(['task', 'list', '--target', '10.0.0.0/33']);
    expect(badTarget.code).toBe(2);
    expect(badTarget.stderr).toContain('--target must be an address, CIDR, range');
    expect((await cli(['dlq'])).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('reconcile');
    const badEnv = await cli(['queue', 'stats'], { APP_MODE: 'sideways' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('APP_MODE');
    const closed = await freePort();
    const noRedis = await cli(['queue', 'stats'], { REDIS_URL: `redis://127.0.0.1:${closed}` });
    expect(noRedis.code).toBe(1);
    expect(noRedis.stderr).toContain('did not answer');
  });
});
