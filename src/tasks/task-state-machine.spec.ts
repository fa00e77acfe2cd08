import { ConflictError } from '../common/errors';
import { Task, TASK_STATUSES, TaskStatus, toPublicTask } from './task';
import {
  applyUpdate,
  assertTransition,
  canTransition,
  InvalidTransitionError,
  newTask,
} from './task-state-machine';

const ALLOWED: Array<[TaskStatus, TaskStatus]> = [
  ['queued', 'running'],
  ['queued', 'cancelled'],
  ['queued', 'failed'],
  ['running', 'completed'],
  ['running', 'failed'],
  ['running', 'timeout'],
  ['running', 'cancelled'],
];
const isAllowed = (from: TaskStatus, to: TaskStatus) => ALLOWED.some(([f, t]) => f === from && t === to);
const ALL_PAIRS = TASK_STATUSES.flatMap((from) =>
  TASK_STATUSES.map((to) => [from, to] as [TaskStatus, TaskStatus]),
);
const REFUSED = ALL_PAIRS.filter(([from, to]) => from !== to && !isAllowed(from, to));

const T0 = new Date('2026-11-28T14:30:22.000Z');
const T1 = new Date('2026-11-28T14:31:00.000Z');

function queued(): Task {
  return newTask(
    {
      task_id: 'ne_scan_20261128_143022_a1b2c3d4',
      name: 'weekly',
      targets: ['10.0.0.0/24'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace-1',
      client_id: 'client-a',
    },
    T0,
  );
}

function inStatus(status: TaskStatus): Task {
  const t = queued();
  return { ...t, status };
}

describe('task state machine', () => {
  it.each(ALLOWED)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(from, to)).not.toThrow();
    expect(applyUpdate(inStatus(from), { status: to }, T1).status).toBe(to);
  });

  it.each(REFUSED)('refuses %s → %s with an error naming both states', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
    let caught: unknown;
    try {
      applyUpdate(inStatus(from), { status: to }, T1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidTransitionError);
    expect(caught).toBeInstanceOf(ConflictError);
    expect((caught as Error).message).toContain(from);
    expect((caught as Error).message).toContain(to);
  });

  it('covers all 36 pairs: 7 allowed, 6 same-status, 23 refused', () => {
    expect(ALL_PAIRS).toHaveLength(36);
    expect(REFUSED).toHaveLength(23);
  });

  it.each(['completed', 'failed', 'timeout', 'cancelled'] as const)('makes a %s task immutable', (status) => {
    const t = inStatus(status);
    expect(() => applyUpdate(t, { progress: 50 }, T1)).toThrow(InvalidTransitionError);
    expect(() => applyUpdate(t, {}, T1)).toThrow(/final state/);
  });

  it('allows same-status updates of live tasks as updates, without a history entry', () => {
    const running = applyUpdate(queued(), { status: 'running' }, T1);
    const next = applyUpdate(running, { phase: 'scanning', progress: 42 }, T1);
    expect(next).toMatchObject({ status: 'running', phase: 'scanning', progress: 42 });
    expect(next.history).toEqual(running.history);
    expect(applyUpdate(queued(), { phase: 'creating' }, T1).status).toBe('queued');
  });
});

describe('newTask', () => {
  it('starts queued at version 1, waiting for a scanner, with its creation recorded', () => {
    const t = queued();
    expect(t).toMatchObject({
      version: 1,
      status: 'queued',
      phase: 'waiting_for_scanner',
      progress: 0,
      created_at: T0.toISOString(),
      started_at: null,
      completed_at: null,
      results_summary: null,
    });
    expect(t.history).toEqual([{ from: null, to: 'queued', at: T0.toISOString() }]);
  });
});

describe('applyUpdate', () => {
  it('returns a new task with version + 1 and leaves the input unchanged', () => {
    const t = queued();
    const copy = structuredClone(t);
    const next = applyUpdate(t, { phase: 'creating' }, T1);
    expect(next.version).toBe(2);
    expect(applyUpdate(next, { phase: 'launching' }, T1).version).toBe(3);
    expect(t).toEqual(copy);
  });

  it('sets started_at on running and completed_at, phase done and progress 100 on completed', () => {
    const running = applyUpdate(queued(), { status: 'running', phase: 'scanning', progress: 10 }, T1);
    expect(running.started_at).toBe(T1.toISOString());
    expect(running.completed_at).toBeNull();
    const T2 = new Date('2026-11-28T15:00:00.000Z');
    const done = applyUpdate(running, { status: 'completed' }, T2);
    expect(done).toMatchObject({ phase: 'done', progress: 100, completed_at: T2.toISOString() });
    expect(done.started_at).toBe(T1.toISOString());
    expect(done.history.map((h) => h.to)).toEqual(['queued', 'running', 'completed']);
  });

  it('records the error as the reason of a failure and sets completed_at', () => {
    const failed = applyUpdate(queued(), { status: 'failed', error: 'scanner auth failed' }, T1);
    expect(failed.error).toBe('scanner auth failed');
    expect(failed.completed_at).toBe(T1.toISOString());
    expect(failed.history.at(-1)).toEqual({
      from: 'queued',
      to: 'failed',
      at: T1.toISOString(),
      reason: 'scanner auth failed',
    });
  });

  it('ignores attempts to rewrite identity, version, history or creation time', () => {
    const t = queued();
    const sneaky = {
      task_id: 'other',
      version: 99,
      history: [],
      created_at: 'x',
      progress: 5,
    } as unknown as Parameters<typeof applyUpdate>[1];
    const next = applyUpdate(t, sneaky, T1);
    expect(next).toMatchObject({ task_id: t.task_id, version: 2, created_at: t.created_at, progress: 5 });
    expect(next.history).toEqual(t.history);
  });

  it('clamps progress to 0–100', () => {
    expect(applyUpdate(queued(), { progress: 140 }, T1).progress).toBe(100);
    expect(applyUpdate(queued(), { progress: -3 }, T1).progress).toBe(0);
  });
});

describe('toPublicTask', () => {
  it('keeps the SPEC §3 fields and drops internal ones', () => {
    const pub = toPublicTask(queued()) as unknown as Record<string, unknown>;
    for (const internal of [
      'version',
      'history',
      'client_id',
      'idempotency_key_hash',
      'idempotency_fingerprint',
      'resolved_targets',
      'launched_at',
    ]) {
      expect(pub).not.toHaveProperty(internal);
    }
    expect(pub).toMatchObject({
      task_id: 'ne_scan_20261128_143022_a1b2c3d4',
      status: 'queued',
      targets: ['10.0.0.0/24'],
    });
  });
});
