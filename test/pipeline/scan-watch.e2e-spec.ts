import type { JobStatus } from 'bull';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { AppConfig } from '../../src/config/app-config';
import { RedisService } from '../../src/common/redis/redis.service';
import { ScanQueue } from '../../src/queue/scan-queue';
import { WatchedScan, WatchList } from '../../src/queue/watch-list';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { ScanSubmissionService } from '../../src/scans/scan-submission.service';
import { TasksService } from '../../src/tasks/tasks.service';
import { CapacityLeases } from '../../src/scanners/capacity-leases.store';
import { CircuitBreakers } from '../../src/scanners/circuit-breakers';
import { NessusClients } from '../../src/scanners/nessus-clients.service';
import { Reconciler } from '../../src/worker/reconciler.service';
import { ScanPipeline } from '../../src/worker/scan-pipeline.service';
import { ScanWatcher } from '../../src/worker/scan-watcher.service';
import { startTestApp, TestApp } from '../support/app-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';
import { sleep, waitFor } from '../support/wait-for';

const ctx = { clientId: 'anonymous', traceId: 'trace-watch' };

/**
 * Running scans are polled by the workers' watchers: a poll that finds nothing new queues no job and
 * writes nothing, yet keeps the scan's lease; anything else goes back to the poll step.
 */
describe('watching running scans (one worker, real Redis and Bull, simulator over HTTP)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;
  let scanQueue: ScanQueue;
  let tasks: TasksService;
  let redis: RedisService;

  const leaseExpiry = async (taskId: string) =>
    redis.client.zscore(redis.key('leases', 'scanner1'), taskId).then((s) => (s === null ? null : Number(s)));
  const jobsOf = async (taskId: string, states: JobStatus[]) =>
    (await scanQueue.queue.getJobs(states)).filter((j) => j?.data.taskId === taskId);
  const queuedJobsOf = (taskId: string) => jobsOf(taskId, ['waiting', 'delayed', 'active']);

  /** Waits until the task's chain pointer names its watch and the watch is live. */
  const untilWatched = (taskId: string) =>
    waitFor(
      () => scanQueue.chainStatus(taskId),
      (c) => c.live && !!c.pointer?.includes(':watch:'),
    );

  /** A scan that runs for hours: its progress does not move during a test. */
  async function runningScan(target: string): Promise<string> {
    const submitted = await t.app
      .get(ScanSubmissionService)
      .submitUntrusted({ name: 'watch-me', targets: target }, ctx);
    await waitFor(
      () => tasks.get(submitted.task_id),
      (task) => task.status === 'running',
    );
    return submitted.task_id;
  }

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 6 * 3600_000 } });
    t = await startTestApp(
      { APP_MODE: 'all', POLL_INTERVAL_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '3600' },
      { nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 4 }] },
    );
    scanQueue = t.app.get(ScanQueue);
    tasks = t.app.get(TasksService);
    redis = t.app.get(RedisService);
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  it('polls an unchanged scan every interval with no job and no task write, renewing its lease', async () => {
    const taskId = await runningScan('192.0.2.71');
    // The launch step's job hands the first poll to the watchers.
    await waitFor(
      () => scanQueue.chainStatus(taskId),
      (c) => c.live && !!c.pointer?.startsWith(`${taskId}:watch:poll:`),
    );
    const before = await tasks.get(taskId);
    const leaseBefore = (await leaseExpiry(taskId))!;
    const stepsBefore = (await jobsOf(taskId, ['completed'])).length;
    await sleep(3500);
    expect(await queuedJobsOf(taskId)).toEqual([]);
    expect((await jobsOf(taskId, ['completed'])).length).toBe(stepsBefore);
    expect((await tasks.get(taskId)).version).toBe(before.version);
    // Renewed by the watcher's polls in the meantime: expiry moved on by about the time that passed.
    expect((await leaseExpiry(taskId))!).toBeGreaterThan(leaseBefore + 2000);
    expect((await scanQueue.chainStatus(taskId)).live).toBe(true);
    expect((await scanQueue.counts()).watched).toBe(1);
    await t.app.get(ScanQueries).cancel(taskId, ctx.clientId);
  });

  it('lets a cancelled scan go: it leaves the watch and its lease is not renewed again', async () => {
    const taskId = await runningScan('192.0.2.72');
    await untilWatched(taskId);
    expect((await t.app.get(ScanQueries).cancel(taskId, ctx.clientId)).status).toBe('cancelled');
    expect(await t.app.get(WatchList).isWatched(taskId)).toBe(false);
    await sleep(2500);
    expect(await leaseExpiry(taskId)).toBeNull();
    expect(await t.app.get(WatchList).isWatched(taskId)).toBe(false);
    expect(await queuedJobsOf(taskId)).toEqual([]);
    expect(
      sim
        .control(0)
        .stats()
        .scans.find((s) => s.name === `orch-${taskId}`)?.status,
    ).not.toBe('running');
  });

  it('re-seeds a scan whose watch was lost between the watch and its poll step, and watches it again', async () => {
    const taskId = await runningScan('192.0.2.73');
    await untilWatched(taskId);
    // A worker that took the scan out of the watch and died before queueing its poll step.
    expect(await t.app.get(WatchList).release(taskId)).toBe(true);
    expect((await scanQueue.chainStatus(taskId)).live).toBe(false);
    const reconciler = t.app.get(Reconciler);
    reconciler.settleMs = 200;
    expect((await reconciler.reconcile()).reseeded).toEqual([taskId]);
    await untilWatched(taskId);
    expect((await tasks.get(taskId)).status).toBe('running');
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);
    await t.app.get(ScanQueries).cancel(taskId, ctx.clientId);
  });

  it('hands what a watcher saw to the poll step: a finished scan is asked about once, not again by the step', async () => {
    const taskId = await runningScan('192.0.2.74');
    await untilWatched(taskId);
    const scanId = (await tasks.get(taskId)).nessus_scan_id;
    const client = t.app.get(NessusClients).client('scanner1');
    const getScan = client.getScan.bind(client);
    const answers: string[] = [];
    const spy = jest.spyOn(client, 'getScan').mockImplementation(async (id, hosts) => {
      const info = await getScan(id, hosts);
      if (id === scanId) answers.push(info.state);
      return info;
    });
    try {
      // Every running scan is done by its next poll.
      await sim.control(0).setScenario({ scanDurationMs: 1 });
      await waitFor(
        () => tasks.get(taskId),
        (task) => task.status === 'completed',
      );
      expect(answers.filter((state) => state !== 'running')).toEqual(['completed']);
    } finally {
      spy.mockRestore();
      await sim.control(0).setScenario({ scanDurationMs: 6 * 3600_000 });
    }
  });
});

describe('WatchList (real Redis)', () => {
  let redis: RedisService;
  let list: WatchList;
  let prefix: string;
  const deadlineMs = Date.now() + 60_000;

  const scan = (taskId: string): WatchedScan => ({
    taskId,
    traceId: 'trace-watch-list',
    instanceId: 'scanner1',
    scanId: 7,
    hosts: 1,
    progress: 10,
    deadlineMs,
    idempotencyKeyHash: null,
    stepKey: 'poll:v4:2',
    seq: 2,
  });

  async function park(taskId: string, delayMs = 0): Promise<boolean> {
    const chainKey = redis.key('chain', taskId);
    await redis.client.set(chainKey, `${taskId}:launch:v3:0`);
    return list.park(
      chainKey,
      `${taskId}:launch:v3:0`,
      `${taskId}:watch:poll:v4:2`,
      scan(taskId),
      delayMs,
      60,
    );
  }

  beforeAll(async () => {
    prefix = uniquePrefix('watch');
    redis = new RedisService(AppConfig.fromEnv({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix }));
    await redis.whenReady(5000);
    list = new WatchList(redis);
  });

  afterAll(async () => {
    const client = new Redis(testRedisUrl());
    await deletePrefix(client, prefix);
    await client.quit();
    await redis.onApplicationShutdown();
  });

  it('hands each due scan to one of two claiming workers, and a claim never finished back after its hold', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `task-claim-${i}`);
    for (const id of ids) expect(await park(id)).toBe(true);
    expect(await park('task-claim-later', 60_000)).toBe(true);
    const [a, b] = await Promise.all([list.claimDue(25, 300), list.claimDue(25, 300)]);
    const claimed = [...a, ...b].map((c) => c.taskId);
    expect(claimed.sort()).toEqual([...ids].sort());
    expect(a[0].scan).toEqual(scan(a[0].taskId));
    expect(await list.claimDue(100, 300)).toEqual([]);
    await sleep(400);
    expect((await list.claimDue(100, 300)).map((c) => c.taskId).sort()).toEqual([...ids].sort());
  });

  /** A watcher on this list whose Nessus is `getScan`; every poll step it would queue is refused. */
  const watcherWith = (getScan: (scanId: number) => Promise<unknown>) =>
    new ScanWatcher(
      { pipeline: { pollIntervalSeconds: 30, workerConcurrency: 2 } } as AppConfig,
      list,
      {} as ScanQueue,
      { client: () => ({ getScan }) } as unknown as NessusClients,
      { execute: (_id: string, fn: () => Promise<unknown>) => fn() } as unknown as CircuitBreakers,
      {
        keepHeld: async (taskId: string, _key: string | null, instanceId: string) => {
          await new CapacityLeases(redis).renew(instanceId, taskId, 60_000);
        },
      } as unknown as ScanPipeline,
    );

  async function parkOnly(ids: string[]): Promise<void> {
    await redis.client.del(redis.key('watch', 'due'), redis.key('watch', 'scans'));
    for (const id of ids) await park(id);
  }

  it('a watcher shutting down mid-sweep leaves the scans it has not polled due at once, for the others', async () => {
    await parkOnly(Array.from({ length: 5 }, (_, i) => `task-sweep-${i}`));
    // Nessus stands in: each poll waits until the test lets it answer "running, same progress".
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const polled: number[] = [];
    const watcher = watcherWith(async (scanId) => {
      polled.push(scanId);
      await answered;
      return { state: 'running', progress: 10 };
    });
    const sweeping = watcher.sweep();
    await waitFor(
      async () => polled.length,
      (n) => n === 2,
    );
    const stopping = watcher.onApplicationShutdown();
    answer();
    expect(await sweeping).toBe(5);
    await stopping;
    expect(polled).toHaveLength(2);
    // The two polled are due an interval on; the three it did not poll are due now, not after the hold.
    const dueNow = (await list.claimDue(100, 60_000)).map((c) => c.taskId);
    expect(dueNow).toHaveLength(3);
    expect(await redis.client.zcard(redis.key('watch', 'due'))).toBe(5);
  });

  it('keeps watching through a scanner hiccup, with one warning per scanner and sweep', async () => {
    await parkOnly(['task-hiccup-1', 'task-hiccup-2', 'task-hiccup-3']);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const hiccup = Object.assign(new Error('connect ECONNREFUSED'), { transient: true });
      expect(await watcherWith(() => Promise.reject(hiccup)).sweep()).toBe(3);
      expect(warn.mock.calls.map(([line]) => line)).toEqual([
        'scanner scanner1: 3 poll(s) of running scans failed (connect ECONNREFUSED); will poll again',
      ]);
    } finally {
      warn.mockRestore();
    }
    // Still watched, due again an interval on rather than handed to a poll step.
    for (const id of ['task-hiccup-1', 'task-hiccup-2', 'task-hiccup-3'])
      expect(await list.isWatched(id)).toBe(true);
    expect(await list.claimDue(100, 60_000)).toEqual([]);
  });

  it('does not watch a task whose chain moved on, and does not bring back a released one', async () => {
    const chainKey = redis.key('chain', 'task-moved-on');
    await redis.client.set(chainKey, 'task-moved-on:reconcile:1');
    expect(
      await list.park(
        chainKey,
        'task-moved-on:poll:v4:1',
        'task-moved-on:watch:poll:v4:2',
        scan('task-moved-on'),
        0,
        60,
      ),
    ).toBe(false);
    expect(await list.isWatched('task-moved-on')).toBe(false);
    expect(await redis.client.get(chainKey)).toBe('task-moved-on:reconcile:1');

    expect(await park('task-released')).toBe(true);
    expect(await list.release('task-released')).toBe(true);
    expect(await list.release('task-released')).toBe(false);
    expect(await list.reschedule(['task-released'], 1000)).toEqual([]);
    expect(await list.isWatched('task-released')).toBe(false);
  });
});
