import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from 'bull';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { UnavailableError } from '../../src/common/errors';
import { RedisService } from '../../src/common/redis/redis.service';
import { fingerprintSubmission } from '../../src/idempotency/fingerprint';
import { scopedKeyHash } from '../../src/idempotency/idempotency-key';
import { IdempotencyStore } from '../../src/idempotency/idempotency.store';
import { AdvanceJobData } from '../../src/queue/queue-names';
import { ScanQueue } from '../../src/queue/scan-queue';
import { WaitingLine } from '../../src/queue/waiting-line';
import { Task } from '../../src/tasks/task';
import { newTaskId } from '../../src/tasks/task-id';
import { newTask } from '../../src/tasks/task-state-machine';
import { TasksService } from '../../src/tasks/tasks.service';
import { Reconciler } from '../../src/worker/reconciler.service';
import { startTestApp, TestApp } from '../support/app-harness';

const KEY_A = 'idem-e2e-token-alpha-0123';
const KEY_B = 'idem-e2e-token-bravo-4567';
const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];
const CONCURRENT = 200;

interface Reply {
  status: number;
  body: Record<string, unknown> & { task_id?: string; idempotent_replay?: boolean; message?: string };
}

/**
 * Idempotency through the whole application (REST, in-process, all mode) on real Redis with the Nessus
 * simulator running the scans: concurrent duplicates, mismatches, client scoping, refused requests and
 * the states a crash between claim and enqueue leaves behind.
 */
describe('Idempotency-Key through POST /api/v1/scans (whole app, real Redis, simulator)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;
  let scanQueue: ScanQueue;
  let seq = 0;
  const freshKey = (label: string) => `${label}-${Date.now()}-${++seq}`;

  async function post(token: string, body: object, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(`${t.url}/api/v1/scans`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Reply['body'] };
  }

  async function status(taskId: string, token = KEY_A): Promise<Reply> {
    const res = await fetch(`${t.url}/api/v1/scans/${taskId}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as Reply['body'] };
  }

  async function waitForTerminal(taskId: string, timeoutMs = 45_000): Promise<Reply['body']> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await status(taskId);
      if (res.status === 200 && TERMINAL.includes(String(res.body.status))) return res.body;
      if (Date.now() > until) throw new Error(`task ${taskId} still ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const taskDirs = () =>
    existsSync(t.dataDir) ? readdirSync(t.dataDir).filter((n) => n.startsWith('ne_scan_')) : [];
  const allJobs = () =>
    scanQueue.queue.getJobs(['waiting', 'active', 'delayed', 'paused', 'completed', 'failed']) as Promise<
      Job<AdvanceJobData>[]
    >;
  const jobsOf = async (taskId: string) => (await allJobs()).filter((j) => j.data.taskId === taskId);
  const scansNamed = (taskId: string) => sim.control(0).stats().created_by_name[`orch-${taskId}`] ?? 0;
  /** Stores the claim a first submission of (key, body) by client alpha makes for `taskId`. */
  const claimFor = (key: string, body: { targets: string; name: string }, taskId: string) =>
    t.app
      .get(IdempotencyStore)
      .claim(
        scopedKeyHash('alpha', key),
        fingerprintSubmission(
          { kind: 'untrusted', ...body, scan_type: 'untrusted' },
          { scanner_pool: 'nessus' },
        ),
        taskId,
        t.config.idempotency.ttlSeconds,
      );

  /**
   * One chain: every job after the first was added by its predecessor while that one ran, or is a poll
   * step a watcher queued after it (a running scan waits for its polls in the watch list, not as a job).
   * A second chain, or a job that stopped without a successor, breaks the sequence.
   */
  function expectOneChain(jobs: Job<AdvanceJobData>[]): void {
    const ordered = [...jobs].sort(
      (a, b) => a.timestamp - b.timestamp || (a.processedOn ?? 0) - (b.processedOn ?? 0),
    );
    expect(ordered.filter((j) => String(j.id).endsWith(':admit'))).toHaveLength(1);
    expect(String(ordered[0].id)).toMatch(/:admit$/);
    for (let i = 1; i < ordered.length; i++) {
      const prev = ordered[i - 1];
      const addedWhilePrevRan =
        ordered[i].timestamp >= (prev.processedOn ?? Infinity) &&
        (ordered[i].timestamp <= (prev.finishedOn ?? Infinity) ||
          String(ordered[i].id).startsWith(`${ordered[i].data.taskId}:poll:`));
      expect({ job: ordered[i].id, after: prev.id, addedWhilePrevRan }).toEqual({
        job: ordered[i].id,
        after: prev.id,
        addedWhilePrevRan: true,
      });
    }
  }

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 2500 } });
    t = await startTestApp(
      {
        APP_MODE: 'all',
        POLL_INTERVAL_SECONDS: '1',
        API_KEYS: `alpha:${KEY_A},bravo:${KEY_B}`,
        RATE_LIMIT_PER_MINUTE: '100000',
        TARGET_DENY: '198.51.100.0/24',
        // Only the retry may bring a half-submitted task to life here; the reconciler would mask a failure.
        RECONCILE_INTERVAL_SECONDS: '3600',
      },
      { nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 4 }] },
    );
    scanQueue = t.app.get(ScanQueue);
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  describe(`${CONCURRENT} identical concurrent submissions`, () => {
    const key = `burst-${Date.now()}`;
    const body = { targets: '192.0.2.10, 192.0.2.11', name: 'burst' };
    let replies: Reply[];
    let taskId: string;

    beforeAll(async () => {
      replies = await Promise.all(
        Array.from({ length: CONCURRENT }, () => post(KEY_A, body, { 'Idempotency-Key': key })),
      );
      taskId = String(replies[0].body.task_id);
    });

    it('all get 202 with one task id; exactly one is not a replay', () => {
      expect(new Set(replies.map((r) => r.status))).toEqual(new Set([202]));
      expect(new Set(replies.map((r) => r.body.task_id))).toEqual(new Set([taskId]));
      expect(replies.filter((r) => r.body.idempotent_replay === false)).toHaveLength(1);
      expect(replies.filter((r) => r.body.idempotent_replay === true)).toHaveLength(CONCURRENT - 1);
    });

    it('creates one task directory and jobs for that task only', async () => {
      expect(taskDirs()).toEqual([taskId]);
      expect(new Set((await allJobs()).map((j) => j.data.taskId))).toEqual(new Set([taskId]));
    });

    it('leaves the admitted task out of the pool waiting line', async () => {
      const waiting = t.app.get(WaitingLine);
      const until = Date.now() + 20_000;
      let task = (await status(taskId)).body;
      while (task.phase === 'waiting_for_scanner' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        task = (await status(taskId)).body;
      }
      expect(task.phase).not.toBe('waiting_for_scanner');
      expect(await waiting.position('nessus', taskId)).toBeNull();
      expect(await waiting.size('nessus')).toBe(0);
    });

    it('runs to completion with one chain of jobs and one Nessus scan, launched once', async () => {
      const done = await waitForTerminal(taskId);
      expect(done.status).toBe('completed');
      expectOneChain(await jobsOf(taskId));
      const stats = sim.control(0).stats();
      expect(stats.created).toBe(1);
      expect(stats.created_by_name[`orch-${taskId}`]).toBe(1);
      expect(stats.scans.find((s) => s.name === `orch-${taskId}`)?.launches).toBe(1);
    });

    it('a replay after completion returns the same task and creates nothing', async () => {
      const again = await post(KEY_A, body, { 'Idempotency-Key': key });
      expect(again).toMatchObject({
        status: 202,
        body: { task_id: taskId, idempotent_replay: true, status: 'completed' },
      });
      expect(taskDirs()).toEqual([taskId]);
      expect(scansNamed(taskId)).toBe(1);
    });
  });

  describe('the same key with another request', () => {
    it('is refused with 409 naming the mismatch, and nothing is created', async () => {
      const key = freshKey('mismatch');
      const first = await post(
        KEY_A,
        { targets: '192.0.2.20', name: 'mismatch' },
        { 'Idempotency-Key': key },
      );
      expect(first.status).toBe(202);
      const dirs = taskDirs().length;
      const jobs = (await allJobs()).length;
      for (const other of [
        { targets: '192.0.2.21', name: 'mismatch' },
        { targets: '192.0.2.20', name: 'mismatch, renamed' },
        { targets: '192.0.2.20', name: 'mismatch', schema_profile: 'full' },
      ]) {
        const clash = await post(KEY_A, other, { 'Idempotency-Key': key });
        expect(clash.status).toBe(409);
        expect(clash.body.message).toMatch(/Idempotency-Key was already used with a different request/);
        expect(clash.body.message).toContain(String(first.body.task_id));
      }
      expect(taskDirs()).toHaveLength(dirs);
      expect(await allJobs()).toHaveLength(jobs);
      await waitForTerminal(String(first.body.task_id));
    });

    it('replays a request that only normalises to the same one', async () => {
      const key = freshKey('normalised');
      const first = await post(
        KEY_A,
        { targets: '192.0.2.31 192.0.2.30', name: 'norm' },
        { 'Idempotency-Key': key },
      );
      const same = await post(
        KEY_A,
        {
          targets: [' 192.0.2.30/32', '192.0.2.31', '192.0.2.30'],
          name: 'norm',
          schema_profile: 'brief',
          scanner_pool: 'nessus',
        },
        { 'X-Idempotency-Key': key },
      );
      expect(first.status).toBe(202);
      expect(same).toMatchObject({
        status: 202,
        body: { task_id: first.body.task_id, idempotent_replay: true },
      });
      await waitForTerminal(String(first.body.task_id));
    });
  });

  it('scopes keys to the API key: another client with the same key and body gets its own task', async () => {
    const key = freshKey('shared');
    const body = { targets: '192.0.2.40', name: 'shared key' };
    const alpha = await post(KEY_A, body, { 'Idempotency-Key': key });
    const bravo = await post(KEY_B, body, { 'Idempotency-Key': key });
    expect(alpha).toMatchObject({ status: 202, body: { idempotent_replay: false } });
    expect(bravo).toMatchObject({ status: 202, body: { idempotent_replay: false } });
    expect(bravo.body.task_id).not.toBe(alpha.body.task_id);
    // Each client keeps replaying its own task, and cannot see the other's.
    expect((await post(KEY_A, body, { 'Idempotency-Key': key })).body.task_id).toBe(alpha.body.task_id);
    expect((await post(KEY_B, body, { 'Idempotency-Key': key })).body.task_id).toBe(bravo.body.task_id);
    expect((await status(String(alpha.body.task_id), KEY_B)).status).toBe(404);
    await waitForTerminal(String(alpha.body.task_id));
    expect((await waitForTerminalAs(String(bravo.body.task_id), KEY_B)).status).toBe('completed');
    expect(scansNamed(String(alpha.body.task_id))).toBe(1);
    expect(scansNamed(String(bravo.body.task_id))).toBe(1);
  });

  async function waitForTerminalAs(taskId: string, token: string): Promise<Reply['body']> {
    const until = Date.now() + 45_000;
    for (;;) {
      const res = await status(taskId, token);
      if (res.status === 200 && TERMINAL.includes(String(res.body.status))) return res.body;
      if (Date.now() > until) throw new Error(`task ${taskId} still ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it.each([
    ['a malformed target (400)', { targets: 'not a host!!', name: 'refused' }, 400],
    ['a denied target (403)', { targets: '198.51.100.7', name: 'refused' }, 403],
    ['a missing name (400)', { targets: '192.0.2.50' }, 400],
  ])('a request refused for %s does not use up its key', async (_label, bad, code) => {
    const key = freshKey('refused');
    const dirs = taskDirs().length;
    const refused = await post(KEY_A, bad, { 'Idempotency-Key': key });
    expect(refused.status).toBe(code);
    expect(taskDirs()).toHaveLength(dirs);
    const good = { targets: '192.0.2.50', name: 'corrected' };
    const accepted = await post(KEY_A, good, { 'Idempotency-Key': key });
    expect(accepted).toMatchObject({ status: 202, body: { idempotent_replay: false } });
    const replay = await post(KEY_A, good, { 'Idempotency-Key': key });
    expect(replay).toMatchObject({
      status: 202,
      body: { task_id: accepted.body.task_id, idempotent_replay: true },
    });
    expect((await waitForTerminal(String(accepted.body.task_id))).status).toBe('completed');
  });

  describe('a crash between claim and enqueue, then a retry', () => {
    it('claim stored, no task file, no job: the retry creates and runs the pre-generated task', async () => {
      const key = freshKey('crash-claim');
      const body = { targets: '192.0.2.60, 192.0.2.61', name: 'crashed after claim' };
      // The state a process killed right after the claim leaves: the claim record and nothing else.
      const orphan = newTaskId();
      expect(await claimFor(key, body, orphan)).toEqual({ outcome: 'claimed', taskId: orphan });
      expect((await status(orphan)).status).toBe(404);
      expect(existsSync(join(t.dataDir, orphan))).toBe(false);

      const retry = await post(KEY_A, body, { 'Idempotency-Key': key });
      expect(retry).toMatchObject({ status: 202, body: { task_id: orphan, idempotent_replay: true } });
      expect((await status(orphan)).status).toBe(200);
      expect(existsSync(join(t.dataDir, orphan, 'task.json'))).toBe(true);
      expect((await waitForTerminal(orphan)).status).toBe('completed');
      expectOneChain(await jobsOf(orphan));
      expect(scansNamed(orphan)).toBe(1);
    });

    it.each([
      ['no pointer', false],
      ['only the seed pointer', true],
    ])(
      'claim and task file stored, %s, no job: the retry enqueues it once and it runs',
      async (_label, withPointer) => {
        const key = freshKey('crash-write');
        const body = { targets: withPointer ? '192.0.2.71' : '192.0.2.70', name: 'crashed before enqueue' };
        // The state a process killed at its enqueue leaves: the claim and the task file, no job.
        const taskId = newTaskId();
        await claimFor(key, body, taskId);
        await t.app.get(TasksService).create(
          newTask({
            task_id: taskId,
            name: body.name,
            targets: [body.targets],
            scan_type: 'untrusted',
            scanner_pool: 'nessus',
            trace_id: `trace-${key}`,
            client_id: 'alpha',
            idempotency_key_hash: scopedKeyHash('alpha', key),
          }),
        );
        // Killed between the chain pointer write and the job add.
        if (withPointer)
          await t.app
            .get(RedisService)
            .client.set(t.app.get(RedisService).key('chain', taskId), `${taskId}:admit`);
        expect(await jobsOf(taskId)).toEqual([]);
        expect((await status(taskId)).body).toMatchObject({ status: 'queued' });

        const retry = await post(KEY_A, body, { 'Idempotency-Key': key });
        expect(retry).toMatchObject({ status: 202, body: { task_id: taskId, idempotent_replay: true } });
        expect((await waitForTerminal(taskId)).status).toBe('completed');
        expectOneChain(await jobsOf(taskId));
        expect(scansNamed(taskId)).toBe(1);
        // Once the job exists, further retries add nothing.
        const later = await post(KEY_A, body, { 'Idempotency-Key': key });
        expect(later.body.task_id).toBe(taskId);
        expect((await jobsOf(taskId)).filter((j) => String(j.id).endsWith(':admit'))).toHaveLength(1);
      },
    );
  });

  describe('a submission answered with an error', () => {
    /** Posts (key, body) with the first enqueue replaced by `seed`; returns the reply and the task it stored. */
    async function postFailingSeed(
      key: string,
      body: object,
      seed: (...args: Parameters<ScanQueue['seed']>) => Promise<boolean>,
    ): Promise<{ reply: Reply; taskId: string }> {
      const spy = jest.spyOn(scanQueue, 'seed').mockImplementationOnce(seed);
      try {
        const reply = await post(KEY_A, body, { 'Idempotency-Key': key });
        const [taskId] = taskDirs().filter((d) => !knownBefore.has(d));
        return { reply, taskId };
      } finally {
        spy.mockRestore();
      }
    }

    it('503 at the enqueue: the stored task is failed, never started, and the retry runs one scan', async () => {
      const key = freshKey('refused-enqueue');
      const body = { targets: '192.0.2.90', name: 'enqueue refused' };
      const { reply, taskId } = await postFailingSeed(key, body, () =>
        Promise.reject(new UnavailableError('the queue (Redis) is unavailable; retry shortly')),
      );
      expect(reply.status).toBe(503);
      expect((await status(taskId)).body).toMatchObject({
        status: 'failed',
        error: expect.stringContaining('could not be queued'),
      });
      // It gave up its key: a restore after Redis lost its data must not point the key at it again.
      expect(await t.app.get(TasksService).get(taskId)).toMatchObject({
        idempotency_key_hash: null,
        idempotency_fingerprint: null,
      });
      // Before, the reconciler started this task beside the one the retry creates.
      expect((await t.app.get(Reconciler).reconcile()).reseeded).not.toContain(taskId);
      expect(await t.app.get(WaitingLine).position('nessus', taskId)).toBeNull();

      const retry = await post(KEY_A, body, { 'Idempotency-Key': key });
      expect(retry).toMatchObject({ status: 202, body: { idempotent_replay: false } });
      const retried = String(retry.body.task_id);
      expect(retried).not.toBe(taskId);
      expect((await waitForTerminal(retried)).status).toBe('completed');
      expect(scansNamed(retried)).toBe(1);
      expect(scansNamed(taskId)).toBe(0);
    });

    it('an enqueue that went through although it reported a failure still gives one scan in all', async () => {
      const key = freshKey('timed-out-enqueue');
      const body = { targets: '192.0.2.91', name: 'enqueue timed out' };
      const realSeed = scanQueue.seed.bind(scanQueue);
      // A command timeout after Redis had applied the write: the job exists and a worker may take it.
      const { reply, taskId } = await postFailingSeed(key, body, async (...args) => {
        await realSeed(...args);
        await new Promise((r) => setTimeout(r, 300));
        throw new UnavailableError('Command timed out');
      });
      expect(reply.status).toBe(503);

      const retry = await post(KEY_A, body, { 'Idempotency-Key': key });
      expect(retry.status).toBe(202);
      const ids = [...new Set([taskId, String(retry.body.task_id)])];
      const ends = await Promise.all(ids.map((id) => waitForTerminal(id)));
      expect(ends.filter((e) => e.status === 'completed')).toHaveLength(1);
      expect(ids.reduce((n, id) => n + scansNamed(id), 0)).toBe(1);
    });
  });

  it('a replay that read the task just before its admission neither re-queues nor re-seeds it', async () => {
    const key = freshKey('stale-read');
    const body = { targets: '192.0.2.80', name: 'replayed mid-admission' };
    const first = await post(KEY_A, body, { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    const taskId = String(first.body.task_id);
    const tasks = t.app.get(TasksService);
    const until = Date.now() + 20_000;
    while ((await tasks.find(taskId))?.phase !== 'scanning' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const running = (await tasks.find(taskId))!;
    expect(running.phase).toBe('scanning');
    // The replay sees the task as it was a moment before the admit step (a read racing the worker).
    const stale: Task = {
      ...running,
      status: 'queued',
      phase: 'waiting_for_scanner',
      scanner_instance: null,
      version: 1,
    };
    const find = tasks.find.bind(tasks);
    let served = false;
    const findSpy = jest.spyOn(tasks, 'find').mockImplementation(async (id: string) => {
      if (id !== taskId || served) return find(id);
      served = true;
      return stale;
    });
    let replay: Reply;
    try {
      replay = await post(KEY_A, body, { 'Idempotency-Key': key });
    } finally {
      findSpy.mockRestore();
    }
    expect(served).toBe(true);
    expect(replay).toMatchObject({ status: 202, body: { task_id: taskId, idempotent_replay: true } });
    expect(await t.app.get(WaitingLine).position('nessus', taskId)).toBeNull();
    expect((await waitForTerminal(taskId, 20_000)).status).toBe('completed');
    expectOneChain(await jobsOf(taskId));
    expect(scansNamed(taskId)).toBe(1);
  });

  const knownBefore = new Set<string>();
  beforeEach(() => {
    knownBefore.clear();
    for (const d of taskDirs()) knownBefore.add(d);
  });
});
