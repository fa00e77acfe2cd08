import { Test, TestingModule } from '@nestjs/testing';
import Redis from 'ioredis';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { scopedKeyHash } from '../../src/idempotency/idempotency-key';
import { IdempotencyModule } from '../../src/idempotency/idempotency.module';
import { IdempotencyStore } from '../../src/idempotency/idempotency.store';
import { NessusClients } from '../../src/scanners/nessus-clients.service';
import { ScannersModule } from '../../src/scanners/scanners.module';
import { Task, TaskPatch, TaskStatus } from '../../src/tasks/task';
import { newTaskId } from '../../src/tasks/task-id';
import { applyUpdate, newTask } from '../../src/tasks/task-state-machine';
import { TasksModule } from '../../src/tasks/tasks.module';
import { TasksService } from '../../src/tasks/tasks.service';
import { HousekeepingService } from '../../src/worker/housekeeping.service';
import { writeScannersYaml } from '../support/app-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

describe('housekeeping (real files, real Redis, simulator)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let prefix: string;
  let moduleRef: TestingModule;
  let tasks: TasksService;
  let housekeeping: HousekeepingService;
  let clients: NessusClients;
  let redis: RedisService;
  let serial = 0;

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 1 });
    dir = mkdtempSync(join(tmpdir(), 'nmg-hk-'));
    prefix = uniquePrefix('hk');
    const config = AppConfig.fromEnv({
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: join(dir, 'tasks'),
      SCANNER_CONFIG: writeScannersYaml(dir, {
        nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url }],
      }),
      LOG_LEVEL: 'warn',
    });
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, TasksModule, ScannersModule, IdempotencyModule],
      providers: [HousekeepingService],
    }).compile();
    tasks = moduleRef.get(TasksService);
    housekeeping = moduleRef.get(HousekeepingService);
    clients = moduleRef.get(NessusClients);
    redis = moduleRef.get(RedisService);
    if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
  });

  afterAll(async () => {
    await moduleRef?.close();
    const r = new Redis(testRedisUrl());
    await deletePrefix(r, prefix);
    await r.quit();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Stores a task that was created at `createdAgo`, and (unless `status` is queued) started an hour later
   * and reached `status` at `endedAgo`, with a Nessus scan on the simulator when `withScan`.
   */
  async function craft(
    status: TaskStatus,
    createdAgo: number,
    endedAgo = createdAgo,
    withScan = false,
    idempotencyKeyHash: string | null = null,
  ): Promise<Task> {
    const created = ago(createdAgo + 2 * HOUR);
    const taskId = newTaskId(new Date(created.getTime() + serial++ * 1000));
    let task = newTask(
      {
        task_id: taskId,
        name: `hk-${serial}`,
        targets: ['192.0.2.1'],
        scan_type: 'untrusted',
        scanner_pool: 'nessus',
        trace_id: 't',
        client_id: 'anonymous',
        idempotency_key_hash: idempotencyKeyHash,
      },
      created,
    );
    if (status !== 'queued') {
      const scanId = withScan
        ? await clients.client('scanner1').createScan({ name: `orch-${taskId}`, targets: ['192.0.2.1'] })
        : null;
      const start: TaskPatch = {
        status: 'running',
        phase: 'scanning',
        scanner_instance: 'scanner1',
        nessus_scan_id: scanId,
      };
      task = applyUpdate(task, start, ago(createdAgo + HOUR));
      if (status !== 'running') {
        task = applyUpdate(
          task,
          { status, ...(status === 'failed' ? { error: 'boom' } : {}) },
          ago(endedAgo),
        );
      }
    }
    expect(await tasks.create(task)).toBe('created');
    // Some payload, so the freed bytes are more than task.json.
    writeFileSync(join(tasks.taskDir(taskId), 'scan.nessus'), 'x'.repeat(10_000));
    return task;
  }

  it('removes exactly the expired finished tasks, deletes due Nessus scans once, and never touches live tasks', async () => {
    const oldCompleted = await craft('completed', 8 * DAY, 8 * DAY, true);
    const youngCompleted = await craft('completed', 5 * DAY, 5 * DAY, true);
    const freshCompleted = await craft('completed', 2 * HOUR, 2 * HOUR, true);
    const oldFailed = await craft('failed', 31 * DAY);
    const youngCancelled = await craft('cancelled', 29 * DAY);
    const oldTimeout = await craft('timeout', 40 * DAY);
    const ancientQueued = await craft('queued', 400 * DAY);
    const ancientRunning = await craft('running', 400 * DAY, 400 * DAY, true);
    expect(sim.control(0).stats().created).toBe(4);

    const summary = await housekeeping.runIfLeader(NOW);

    const removed = [oldCompleted, oldFailed, oldTimeout].map((t) => t.task_id);
    const kept = [youngCompleted, freshCompleted, youngCancelled, ancientQueued, ancientRunning];
    expect(summary).toMatchObject({ checked: 8, tasks_removed: 3, nessus_scans_deleted: 2, errors: 0 });
    expect(summary?.removed_task_ids.sort()).toEqual([...removed].sort());
    expect(summary?.bytes_freed).toBeGreaterThanOrEqual(3 * 10_000);
    for (const id of removed) {
      expect(existsSync(tasks.taskDir(id))).toBe(false);
      expect(await tasks.find(id)).toBeNull();
    }
    for (const t of kept) expect((await tasks.get(t.task_id)).status).toBe(t.status);
    const listed = await tasks.list({ limit: 50 });
    expect(listed.tasks.map((t) => t.task_id).sort()).toEqual(kept.map((t) => t.task_id).sort());

    // The completed task past its TTL and the one past the scan retention only; not the fresh or running one.
    const stats = sim.control(0).stats();
    expect(stats.deleted).toBe(2);
    expect(stats.scans.map((s) => s.name).sort()).toEqual(
      [`orch-${freshCompleted.task_id}`, `orch-${ancientRunning.task_id}`].sort(),
    );

    const again = await housekeeping.runOnce(NOW);
    expect(again).toMatchObject({ checked: 5, tasks_removed: 0, nessus_scans_deleted: 0, errors: 0 });
    expect(sim.control(0).stats().deleted).toBe(2);

    // A day later the fresh scan is due, and the cancelled task has passed FAILED_TTL_DAYS.
    const later = await housekeeping.runOnce(new Date(NOW.getTime() + DAY));
    expect(later).toMatchObject({
      tasks_removed: 1,
      removed_task_ids: [youngCancelled.task_id],
      nessus_scans_deleted: 1,
    });
    expect(sim.control(0).stats().deleted).toBe(3);
    expect((await tasks.get(ancientQueued.task_id)).status).toBe('queued');
    expect((await tasks.get(ancientRunning.task_id)).status).toBe('running');
  });

  it("releases a removed task's idempotency key, so a replay submits afresh instead of re-creating it", async () => {
    const keys = moduleRef.get(IdempotencyStore);
    // A running deployment's keys, restored long ago.
    await keys.markRestored();
    const month = 30 * 24 * 3600;
    // An IDEMPOTENCY_TTL_SECONDS longer than FAILED_TTL_DAYS keeps the key beyond its task.
    const claimed = async (label: string, status: TaskStatus, endedAgo: number) => {
      const keyHash = scopedKeyHash('anonymous', `${label}-${serial}`);
      const task = await craft(status, endedAgo, endedAgo, false, keyHash);
      await keys.claim(keyHash, `fp-${label}`, task.task_id, month);
      return { task, keyHash, label };
    };
    const expired = await claimed('expired', 'failed', 31 * DAY);
    const young = await claimed('young', 'failed', 2 * DAY);

    const summary = await housekeeping.runOnce(NOW);
    expect(summary.removed_task_ids).toContain(expired.task.task_id);
    expect(summary.removed_task_ids).not.toContain(young.task.task_id);

    const replay = (c: typeof expired) => keys.claim(c.keyHash, `fp-${c.label}`, newTaskId(), month);
    expect(await replay(expired)).toMatchObject({ outcome: 'claimed' });
    expect(await replay(young)).toEqual({ outcome: 'replay', taskId: young.task.task_id });
  });

  it('counts a scanner that cannot delete a scan as an error and tries again next run', async () => {
    const task = await craft('completed', 2 * DAY, 2 * DAY, true);
    await sim.control(0).setScenario({ down: '503' });
    try {
      const failed = await housekeeping.runOnce(NOW);
      expect(failed).toMatchObject({ nessus_scans_deleted: 0, errors: 1 });
    } finally {
      await sim.control(0).setScenario({ down: false });
    }
    const deletedBefore = sim.control(0).stats().deleted;
    const retried = await housekeeping.runOnce(NOW);
    expect(retried).toMatchObject({ nessus_scans_deleted: 1, errors: 0 });
    expect(sim.control(0).stats().deleted).toBe(deletedBefore + 1);
    expect((await tasks.get(task.task_id)).status).toBe('completed');
  });

  it("removes the temporary files of writers killed mid-write, in the day's first run only", async () => {
    const task = await craft('running', HOUR);
    const taskDir = tasks.taskDir(task.task_id);
    const leftover = (name: string) => {
      const file = join(taskDir, name);
      writeFileSync(file, '{"half":');
      const hourAgo = new Date(Date.now() - HOUR);
      utimesSync(file, hourAgo, hourAgo);
      return file;
    };
    // Another run today (an earlier test's) already swept.
    await redis.client.del(redis.key('housekeeping', 'temp-sweep'));
    const killed = leftover('task.json.4242.deadbeef.tmp');
    const writing = join(taskDir, 'task.json.4243.cafebabe.tmp');
    writeFileSync(writing, '{"half":');

    const first = await housekeeping.runOnce(NOW);
    expect(first).toMatchObject({ temp_files_removed: 1, errors: 0 });
    expect(existsSync(killed)).toBe(false);
    // Younger than a minute: it may belong to a live writer.
    expect(existsSync(writing)).toBe(true);
    expect((await tasks.get(task.task_id)).status).toBe('running');

    const laterToday = leftover('task.json.4244.feedface.tmp');
    expect(await housekeeping.runOnce(NOW)).toMatchObject({ temp_files_removed: 0 });
    expect(existsSync(laterToday)).toBe(true);
    rmSync(writing);
    rmSync(laterToday);
  });

  it('skips the run while another worker holds the housekeeping lock', async () => {
    const lock = redis.key('lock', 'housekeeping');
    await redis.client.set(lock, 'another-worker', 'PX', 60_000);
    try {
      expect(await housekeeping.runIfLeader(NOW)).toBeNull();
    } finally {
      await redis.client.del(lock);
    }
    expect(await housekeeping.runIfLeader(NOW)).not.toBeNull();
  });
});
