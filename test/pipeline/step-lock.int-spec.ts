import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { RedisService } from '../../src/common/redis/redis.service';
import { NessusClients } from '../../src/scanners/nessus-clients.service';
import { newTaskId } from '../../src/tasks/task-id';
import { newTask } from '../../src/tasks/task-state-machine';
import { TasksService } from '../../src/tasks/tasks.service';
import { ScanPipeline } from '../../src/worker/scan-pipeline.service';
import { startTestApp, TestApp } from '../support/app-harness';

/**
 * Two runners of one task's step at once (a Bull stall handing a live job to a second worker, or a
 * re-seeded chain racing the old one) must not both create or launch a Nessus scan. The steps are called
 * directly; the task has no queued job, so the app's own consumer never touches it.
 */
describe('one step of a task at a time (real Redis, simulator over HTTP)', () => {
  let sim: SimulatorHandle;
  let app: TestApp;
  let pipeline: ScanPipeline;
  let tasks: TasksService;
  let redis: RedisService;

  beforeAll(async () => {
    // Latency widens the window between "no scan of this name" and "scan created".
    sim = await startSimulator({ scanners: 1, scenario: { latencyMs: 200, scanDurationMs: 60_000 } });
    app = await startTestApp(
      { APP_MODE: 'worker', RECONCILE_INTERVAL_SECONDS: '3600' },
      {
        nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 4 }],
      },
    );
    pipeline = app.app.get(ScanPipeline);
    tasks = app.app.get(TasksService);
    redis = app.app.get(RedisService);
  });

  afterAll(async () => {
    await app?.close();
    await sim?.stop();
  });

  const scanOf = (taskId: string) =>
    sim
      .control(0)
      .stats()
      .scans.find((s) => s.name === `orch-${taskId}`);

  async function taskInCreating(): Promise<string> {
    const task = newTask({
      task_id: newTaskId(),
      name: 'race-me',
      targets: ['192.0.2.33'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace-step-lock',
      client_id: 'anonymous',
    });
    await tasks.create(task);
    await tasks.update(task.task_id, task.version, { phase: 'creating', scanner_instance: 'scanner1' });
    return task.task_id;
  }

  it('two concurrent runs of a create step make one Nessus scan, launched once', async () => {
    const taskId = await taskInCreating();
    const outcomes = await Promise.all([pipeline.advance(taskId, 0), pipeline.advance(taskId, 0)]);
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);
    expect(scanOf(taskId)?.launches).toBe(1);
    expect(outcomes.filter((o) => o.next && o.stepKey.startsWith('busy:'))).toHaveLength(1);
    // The winner went on to launch in the same run: the next step is the first poll.
    expect(outcomes.filter((o) => o.next && o.stepKey.startsWith('poll:'))).toHaveLength(1);
    expect(await tasks.get(taskId)).toMatchObject({ status: 'running', phase: 'scanning' });
  });

  it("asks Nessus what a step may have done before only when one may have: not right after this job's own step", async () => {
    const client = app.app.get(NessusClients).client('scanner1');
    const lists = jest.spyOn(client, 'listScans');
    const reads = jest.spyOn(client, 'getScan');
    try {
      const fresh = newTask({
        task_id: newTaskId(),
        name: 'fresh',
        targets: ['192.0.2.34'],
        scan_type: 'untrusted',
        scanner_pool: 'nessus',
        trace_id: 'trace-step-lock',
        client_id: 'anonymous',
      });
      await tasks.create(fresh);
      await pipeline.advance(fresh.task_id, 0);
      expect(await tasks.get(fresh.task_id)).toMatchObject({ status: 'running', phase: 'scanning' });
      expect(sim.control(0).stats().created_by_name[`orch-${fresh.task_id}`]).toBe(1);
      expect(scanOf(fresh.task_id)?.launches).toBe(1);
      // Admitted, created and launched by one job: no scan to adopt, nothing launched before.
      expect(lists).not.toHaveBeenCalled();
      expect(reads).not.toHaveBeenCalled();

      // A worker died after Nessus created the scan and before the task recorded it: the retry adopts it.
      const retried = await taskInCreating();
      await client.createScan({ name: `orch-${retried}`, targets: ['192.0.2.33'] });
      await pipeline.advance(retried, 0);
      expect(lists).toHaveBeenCalledTimes(1);
      expect(sim.control(0).stats().created_by_name[`orch-${retried}`]).toBe(1);
      expect(scanOf(retried)?.launches).toBe(1);
    } finally {
      lists.mockRestore();
      reads.mockRestore();
    }
  });

  it('two concurrent runs of a launch step launch the scan once', async () => {
    // A worker crashed after the create step: the Nessus scan exists, the task is in launching.
    const { taskId, scanId } = await taskInLaunching();

    const reads = jest.spyOn(app.app.get(NessusClients).client('scanner1'), 'getScan');
    try {
      await Promise.all([pipeline.advance(taskId, 0), pipeline.advance(taskId, 0)]);
      // A launch step run by a job of its own first asks Nessus whether the scan already runs.
      expect(reads).toHaveBeenCalledWith(scanId);
    } finally {
      reads.mockRestore();
    }
    expect(scanOf(taskId)?.launches).toBe(1);
    expect(await tasks.get(taskId)).toMatchObject({ status: 'running', phase: 'scanning' });
  });

  /** A task in launching whose Nessus scan was created by an earlier job (which then ended). */
  async function taskInLaunching(): Promise<{ taskId: string; scanId: number }> {
    const taskId = await taskInCreating();
    const scanId = await app.app
      .get(NessusClients)
      .client('scanner1')
      .createScan({ name: `orch-${taskId}`, targets: ['192.0.2.33'] });
    const task = await tasks.get(taskId);
    await tasks.update(taskId, task.version, { phase: 'launching', nessus_scan_id: scanId });
    return { taskId, scanId };
  }

  it.each([
    ['still running', 60_000],
    ['already finished', 0],
  ])(
    'a worker killed after /launch, before saving it: the retry sees the scan %s and does not launch it again (RELIABILITY 14)',
    async (_, scanDurationMs) => {
      await sim.control(0).setScenario({ scanDurationMs });
      try {
        const { taskId, scanId } = await taskInLaunching();
        await app.app.get(NessusClients).client('scanner1').launchScan(scanId);
        expect((await tasks.get(taskId)).launched_at).toBeNull();

        await pipeline.advance(taskId, 0);
        expect(scanOf(taskId)?.launches).toBe(1);
        expect(await tasks.get(taskId)).toMatchObject({
          status: 'running',
          phase: 'scanning',
          launched_at: expect.any(String),
        });
      } finally {
        await sim.control(0).setScenario({ scanDurationMs: 60_000 });
      }
    },
  );

  it('Nessus unreachable at launch: the step fails for a retry, the task stays queued, and the retry launches once (RELIABILITY 26)', async () => {
    const { taskId } = await taskInLaunching();
    await sim.control(0).setScenario({ down: '503' });
    try {
      await expect(pipeline.advance(taskId, 0)).rejects.toMatchObject({ transient: true });
      expect(await tasks.get(taskId)).toMatchObject({
        status: 'queued',
        phase: 'launching',
        launched_at: null,
      });
      expect(scanOf(taskId)?.launches).toBe(0);
    } finally {
      await sim.control(0).setScenario({ down: false });
    }
    await pipeline.advance(taskId, 1);
    expect(scanOf(taskId)?.launches).toBe(1);
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);
    expect(await tasks.get(taskId)).toMatchObject({ status: 'running', phase: 'scanning' });
  });

  it('polls a running scan even while its lock is held: a poll creates nothing and writes by version', async () => {
    const taskId = await taskInCreating();
    await pipeline.advance(taskId, 0);
    expect((await tasks.get(taskId)).phase).toBe('scanning');
    const lockKey = redis.key('lock', 'task', taskId);
    await redis.client.set(lockKey, 'killed-worker', 'PX', 60_000);

    expect(await pipeline.advance(taskId, 4, 'poll')).toMatchObject({
      next: true,
      stepKey: expect.stringMatching(/^poll:/),
    });
    // Any other step of it waits for the lock.
    expect(await pipeline.advance(taskId, 4, 'reread')).toMatchObject({
      next: true,
      stepKey: expect.stringMatching(/^busy:/),
    });
    await redis.client.del(lockKey);
  });

  describe('a run paused past its lock (a stalled worker) while another worker ran the step', () => {
    /**
     * Runs the task's create step, not right after an admission (so it first looks for a scan to adopt).
     * Around its call of `method` of the Nessus client its lock lapses and another run of the step goes
     * all the way (create, launch); the paused run then goes on with what it had.
     */
    async function overtakenAt(
      method: 'findScanByName' | 'createScan',
    ): Promise<{ taskId: string; step: string }> {
      const taskId = await taskInCreating();
      const client = app.app.get(NessusClients).client('scanner1');
      const real = client[method].bind(client) as (...args: unknown[]) => Promise<unknown>;
      const overtake = async () => {
        await redis.client.del(redis.key('lock', 'task', taskId));
        expect(await pipeline.advance(taskId, 0)).toMatchObject({ stepKey: expect.stringMatching(/^poll:/) });
      };
      let paused = true;
      const spy = jest.spyOn(client, method).mockImplementation((async (...args: unknown[]) => {
        if (!paused) return real(...args);
        paused = false;
        // The lookup answered "no scan yet" before the other run; the create is sent after it.
        if (method === 'findScanByName') {
          const none = await real(...args);
          await overtake();
          return none;
        }
        await overtake();
        return real(...args);
      }) as never);
      let outcome;
      try {
        outcome = await pipeline.advance(taskId, 0);
      } finally {
        spy.mockRestore();
      }
      expect(await tasks.get(taskId)).toMatchObject({ status: 'running', phase: 'scanning' });
      return { taskId, step: outcome.next ? outcome.stepKey : 'none' };
    }

    it('does not create a second scan once it finds its lock gone, and leaves the next step to the queue', async () => {
      const { taskId, step } = await overtakenAt('findScanByName');
      expect(step).toMatch(/^reread:/);
      expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);
      expect(scanOf(taskId)?.launches).toBe(1);
    });

    it('deletes the scan it created when the other run wrote the task first', async () => {
      const before = sim.control(0).stats().deleted;
      const { taskId } = await overtakenAt('createScan');
      const stats = sim.control(0).stats();
      expect(stats.created_by_name[`orch-${taskId}`]).toBe(2);
      expect(stats.deleted).toBe(before + 1);
      // What is left on Nessus is the scan the task names, launched once.
      expect(stats.scans.filter((x) => x.name === `orch-${taskId}`)).toEqual([
        expect.objectContaining({ id: (await tasks.get(taskId)).nessus_scan_id, launches: 1 }),
      ]);
    });
  });

  it("waits while a killed worker's lock lasts, then goes on", async () => {
    const taskId = await taskInCreating();
    const lockKey = redis.key('lock', 'task', taskId);
    await redis.client.set(lockKey, 'killed-worker', 'PX', 60_000);

    const blocked = await pipeline.advance(taskId, 2);
    expect(blocked).toMatchObject({ next: true, seq: 3, delayMs: 5000 });
    expect((await tasks.get(taskId)).phase).toBe('creating');
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBeUndefined();

    await redis.client.del(lockKey);
    expect(await pipeline.advance(taskId, 0)).toMatchObject({
      next: true,
      stepKey: expect.stringMatching(/^poll:/),
    });
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);
  });
});
