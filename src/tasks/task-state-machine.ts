import { ConflictError } from '../common/errors';
import {
  AuthenticationStatus,
  ScanType,
  SchemaProfile,
  Task,
  TaskImmutableField,
  TaskPatch,
  TaskStatus,
  TERMINAL_STATUSES,
} from './task';

/** The transitions of SPEC §3; nothing else is allowed. */
export const ALLOWED_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['completed', 'failed', 'timeout', 'cancelled'],
  completed: [],
  failed: [],
  timeout: [],
  cancelled: [],
};

/** A refused state change; a 409 to clients (e.g. cancelling a completed scan). */
export class InvalidTransitionError extends ConflictError {
  constructor(
    readonly from: TaskStatus,
    readonly to: TaskStatus,
    readonly taskId?: string,
  ) {
    const subject = taskId ? `task ${taskId}` : 'task';
    super(
      from === to
        ? `${subject} is ${from}, a final state, and can no longer change`
        : `${subject} cannot go from ${from} to ${to}`,
    );
  }
}

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** Throws InvalidTransitionError unless `from → to` is one of the SPEC §3 transitions. */
export function assertTransition(from: TaskStatus, to: TaskStatus, taskId?: string): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to, taskId);
}

const IMMUTABLE: ReadonlySet<string> = new Set<TaskImmutableField>([
  'task_id',
  'version',
  'history',
  'created_at',
]);

function clampProgress(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(100, Math.max(0, Math.round(value)));
}

/**
 * Applies a patch: returns a new task with version + 1, or throws InvalidTransitionError. A patch whose
 * status equals the current one is an update (phase, progress...) and only allowed on a live task; a
 * final task refuses every change. History records each status change; timestamps follow the status.
 */
export function applyUpdate(task: Task, patch: TaskPatch, now: Date = new Date()): Task {
  const from = task.status;
  const to = patch.status ?? from;
  if (isTerminal(from)) throw new InvalidTransitionError(from, to, task.task_id);
  if (to !== from) assertTransition(from, to, task.task_id);

  const changes = Object.fromEntries(
    Object.entries(patch).filter(([key, value]) => !IMMUTABLE.has(key) && value !== undefined),
  ) as TaskPatch;
  const at = now.toISOString();
  const next: Task = {
    ...task,
    ...changes,
    status: to,
    version: task.version + 1,
    history: [...task.history],
  };

  if (to !== from) {
    next.history.push({ from, to, at, ...(changes.error ? { reason: changes.error } : {}) });
    if (to === 'running') next.started_at = changes.started_at ?? at;
    if (isTerminal(to)) next.completed_at = changes.completed_at ?? at;
  }
  if (to === 'completed') {
    next.phase = 'done';
    next.progress = 100;
  } else {
    next.progress = clampProgress(next.progress);
  }
  return next;
}

/** What a caller supplies to create a task; everything else starts at its queued default. */
export interface NewTaskFields {
  task_id: string;
  name: string;
  targets: string[];
  scan_type: ScanType;
  scanner_pool: string;
  trace_id: string;
  client_id: string;
  description?: string | null;
  resolved_targets?: string[];
  schema_profile?: SchemaProfile;
  requested_instance?: string | null;
  idempotency_key_hash?: string | null;
  idempotency_fingerprint?: string | null;
  authentication_status?: AuthenticationStatus;
  created_at?: string;
}

/** A queued task at version 1, phase waiting_for_scanner, progress 0, with its creation in the history. */
export function newTask(fields: NewTaskFields, now: Date = new Date()): Task {
  const created = fields.created_at ?? now.toISOString();
  return {
    task_id: fields.task_id,
    version: 1,
    status: 'queued',
    phase: 'waiting_for_scanner',
    progress: 0,
    name: fields.name,
    description: fields.description ?? null,
    targets: [...fields.targets],
    resolved_targets: [...(fields.resolved_targets ?? fields.targets)],
    scan_type: fields.scan_type,
    schema_profile: fields.schema_profile ?? 'brief',
    scanner_pool: fields.scanner_pool,
    scanner_instance: null,
    requested_instance: fields.requested_instance ?? null,
    nessus_scan_id: null,
    launched_at: null,
    trace_id: fields.trace_id,
    client_id: fields.client_id,
    idempotency_key_hash: fields.idempotency_key_hash ?? null,
    idempotency_fingerprint: fields.idempotency_fingerprint ?? null,
    created_at: created,
    started_at: null,
    completed_at: null,
    error: null,
    authentication_status: fields.authentication_status ?? 'not_applicable',
    results_summary: null,
    history: [{ from: null, to: 'queued', at: created }],
  };
}
