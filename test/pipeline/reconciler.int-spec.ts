import { Test, TestingModule } from '@nestjs/testing';
import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { QueueModule } from '../../src/queue/queue.module';
import { ScanJob } from '../../src/queue/queue-names';
import { ScanQueue } from '../../src/queue/scan-queue';
import { WaitingLine } from '../../src/queue/waiting-line';
import { DeadLetterStore } from '../../src/queue/dead-letter.store';
import { IdempotencyStore } from '../../src/idempotency/idempotency.store';
import { CapacityLeases } from '../../src/scanners/capacity-leases.store';
import { ActiveTaskQuota } from '../../src/scans/active-task-quota';
import { ScansModule } from '../../src/scans/scans.module';
import { newTaskId } from '../../src/tasks/task-id';
import { newTask } from '../../src/tasks/task-state-machine';
import { TasksService } from '../../src/tasks/tasks.service';
import { Reconciler } from '../../src/worker/reconciler.service';
import { writeScannersYaml } from '../support/app-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

describe('reconciler (real Redis and Bull, no consumer)', () => {
  let moduleRef: TestingModule;
  let dir: string;
  let prefix: string;
  let tasks: TasksService;
  let queue: ScanQueue;
  let reconciler: Reconciler;
  let redis: RedisService;

  async function queuedTask(): Promise<string> {
    const task = newTask({
      task_id: newTaskId(),
      name: 'reconcile-me',
      targets: ['192.0.2.9'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace-reconcile',
      client_id: 'anonymous',
    });
    await tasks.create(task);
    return task.task_id;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nmg-reconcile-'));
    prefix = uniquePrefix('reconcile');
    const config = AppConfig.fromEnv({
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: join(dir, 'tasks'),
      SCANNER_CONFIG: writeScannersYaml(dir, {
        nessus: [{ instance_id: 'scanner1', url: 'http://127.0.0.1:9' }],
      }),
      LOG_LEVEL: 'error',
      MAX_ACTIVE_TASKS_PER_CLIENT: '10',
    });
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, QueueModule, ScansModule],
      providers: [Reconciler],
    }).compile();
    tasks = moduleRef.get(TasksService);
    queue = moduleRef.get(ScanQueue);
    reconciler = moduleRef.get(Reconciler);
    redis = moduleRef.get(RedisService);
    await redis.whenReady(5000);
    reconciler.settleMs = 500;
  });

  afterAll(async () => {
    await moduleRef?.close();
    const client = new Redis(testRedisUrl());
    await deletePrefix(client, prefix);
    await client.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-seeds an unfinished task whose chain is gone, once', async () => {
    const taskId = await queuedTask();
    const first = await reconciler.reconcile();
    expect(first.reseeded).toEqual([taskId]);
    expect((await queue.chainStatus(taskId)).live).toBe(true);
    expect((await reconciler.reconcile()).reseeded).toEqual([]);
  });

  it('leaves alone a chain caught between its pointer and its job (no second chain)', async () => {
    const taskId = await queuedTask();
    const jobId = `${taskId}:launch:v3`;
    // What advance() leaves for a moment: the pointer already names the next job, the job is not added yet.
    await redis.client.set(redis.key('chain', taskId), jobId);
    const pass = reconciler.reconcile();
    await new Promise((r) => setTimeout(r, 100));
    await queue.queue.add(ScanJob.Advance, { taskId, traceId: 'trace-reconcile', seq: 3 }, { jobId });
    expect((await pass).reseeded).toEqual([]);
    expect(await queue.chainPointer(taskId)).toBe(jobId);
    const jobs = await queue.queue.getJobs(['waiting', 'delayed']);
    expect(jobs.filter((j) => j.data.taskId === taskId).map((j) => j.id)).toEqual([jobId]);
  });

  it('removes waiting-line entries of tasks that ended or are gone, and keeps the waiting ones', async () => {
    const line = moduleRef.get(WaitingLine);
    const waiting = await queuedTask();
    const ended = await queuedTask();
    await tasks.update(ended, 1, { status: 'failed', error: 'could not be queued' });
    const gone = newTaskId();
    // Both ahead of the waiting task, as a settle that could not reach Redis leaves them.
    await line.join('nessus', ended, 1);
    await line.join('nessus', gone, 2);

    const pass = await reconciler.reconcile();
    expect(pass.waiting_pruned.sort()).toEqual([ended, gone].sort());
    expect(await line.head('nessus', 10)).toContain(waiting);
    expect(await line.position('nessus', ended)).toBeNull();
    expect(await line.position('nessus', gone)).toBeNull();
  });

  it('frees quota places of tasks that ended or are gone, restores lost ones, and leaves fresh ones', async () => {
    const quota = moduleRef.get(ActiveTaskQuota);
    const running = await queuedTask();
    const ended = await queuedTask();
    await tasks.update(ended, 1, { status: 'failed', error: 'stopped' });
    const gone = newTaskId();
    const justReserved = newTaskId();
    // What a settle that could not reach Redis, and a submission that crashed before storing, leave.
    await quota.reserve('anonymous', ended);
    await quota.reserve('anonymous', gone);
    await new Promise((r) => setTimeout(r, 3000));
    await quota.reserve('anonymous', justReserved);
    // The older two are past it for sure; the pass has 2.5 s to reach `justReserved` before it is.
    reconciler.quotaGraceMs = 2500;

    const pass = await reconciler.reconcile();
    expect(pass.quota_freed.sort()).toEqual([ended, gone].sort());
    // `running` had no place (as after a Redis restart): it has one again.
    expect(pass.quota_restored).toContain(running);
    const held = await quota.places('anonymous');
    expect(held.has(running)).toBe(true);
    expect(held.has(justReserved)).toBe(true);
    expect(held.has(ended) || held.has(gone)).toBe(false);
    // Again, with `justReserved` inside the grace whatever the timing: the restored place is kept.
    reconciler.quotaGraceMs = 60_000;
    expect((await reconciler.reconcile()).quota_freed).toEqual([]);
    expect((await quota.places('anonymous')).has(running)).toBe(true);
  });

  it('renews the idempotency key of a task waiting for a scanner, which runs no step that would', async () => {
    const keys = moduleRef.get(IdempotencyStore);
    const keyHash = 'a'.repeat(64);
    const task = newTask({
      task_id: newTaskId(),
      name: 'waits-long',
      targets: ['192.0.2.19'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace-reconcile',
      client_id: 'anonymous',
      idempotency_key_hash: keyHash,
    });
    await tasks.create(task);
    await tasks.update(task.task_id, 1, { phase: 'waiting_for_scanner' });
    // Claimed long ago: only seconds of its TTL are left.
    await keys.markRestored();
    await keys.claim(keyHash, 'fp', task.task_id, 5);

    await reconciler.reconcile();
    const ttl = await redis.client.ttl(redis.key('idem', keyHash));
    expect(ttl).toBeGreaterThan(5);
    expect(ttl).toBeLessThanOrEqual(moduleRef.get(AppConfig).idempotency.ttlSeconds);
    expect(await keys.get(keyHash)).toEqual({ taskId: task.task_id, fingerprint: 'fp' });
  });

  it('keeps the scanner lease of a dead-lettered task that holds one, and leaves its chain alone', async () => {
    const leases = moduleRef.get(CapacityLeases);
    const parked = await queuedTask();
    await tasks.update(parked, 1, { phase: 'creating', scanner_instance: 'scanner1' });
    await moduleRef.get(DeadLetterStore).add({
      task_id: parked,
      job_id: `${parked}:create:v2`,
      error: 'gave up',
      attempts: 5,
      failed_at: new Date().toISOString(),
    });
    expect(await leases.holders('scanner1')).not.toContain(parked);

    const pass = await reconciler.reconcile();
    expect(pass.reseeded).not.toContain(parked);
    // Its Nessus scan may be running: the slot stays taken until an operator retries or purges the task.
    expect(await leases.holders('scanner1')).toContain(parked);
  });
});
