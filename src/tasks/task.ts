/** Task model (SPEC §3). Pure: no framework imports. */

/** Most tasks one list_tasks call returns. */
export const MAX_LIST_LIMIT = 500;

export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'timeout', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'completed',
  'failed',
  'timeout',
  'cancelled',
]);

export const TASK_PHASES = [
  'waiting_for_scanner',
  'creating',
  'launching',
  'scanning',
  'exporting',
  'parsing',
  'done',
] as const;
export type TaskPhase = (typeof TASK_PHASES)[number];

export const SCAN_TYPES = ['untrusted', 'authenticated', 'authenticated_privileged'] as const;
export type ScanType = (typeof SCAN_TYPES)[number];

export const AUTH_STATUSES = ['not_applicable', 'success', 'partial', 'failed'] as const;
export type AuthenticationStatus = (typeof AUTH_STATUSES)[number];

export const SCHEMA_PROFILES = ['minimal', 'summary', 'brief', 'full'] as const;
export type SchemaProfile = (typeof SCHEMA_PROFILES)[number];

export interface SeverityBreakdown {
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
}

export interface ResultsSummary {
  hosts_scanned: number;
  total_vulnerabilities: number;
  severity_breakdown: SeverityBreakdown;
}

/** One recorded state change; the history lets anyone check that only legal transitions happened. */
export interface TaskTransition {
  from: TaskStatus | null;
  to: TaskStatus;
  at: string;
  reason?: string;
}

/** The task as stored in DATA_DIR/<task_id>/task.json. Never holds a credential. */
export interface Task {
  task_id: string;
  /** Incremented on every write; a writer holding an older version is refused. */
  version: number;
  status: TaskStatus;
  phase: TaskPhase;
  progress: number;
  name: string;
  description: string | null;
  targets: string[];
  /** Addresses that passed the target policy; what Nessus is sent (host names already resolved). */
  resolved_targets: string[];
  scan_type: ScanType;
  schema_profile: SchemaProfile;
  scanner_pool: string;
  scanner_instance: string | null;
  /** The scanner_instance the caller asked for, if any. */
  requested_instance: string | null;
  nessus_scan_id: number | null;
  /** Set once launch was called (or Nessus showed the scan launched), so a retry never launches twice. */
  launched_at: string | null;
  trace_id: string;
  /** Hash of the calling API key's identity; scopes visibility and idempotency. */
  client_id: string;
  /** Scoped hash of the idempotency key, so the worker can keep the key alive while the task runs. */
  idempotency_key_hash: string | null;
  /** Fingerprint of the request that claimed the key, so the key can be restored if Redis loses it. */
  idempotency_fingerprint: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  error: string | null;
  authentication_status: AuthenticationStatus;
  results_summary: ResultsSummary | null;
  history: TaskTransition[];
}

/** Fields a write may not change: identity, creation time and the bookkeeping the state machine owns. */
export type TaskImmutableField = 'task_id' | 'version' | 'history' | 'created_at';

/** A change to a task; `status` (if present and different) is a transition checked by the state machine. */
export type TaskPatch = Partial<Omit<Task, TaskImmutableField>>;

/** The task as clients see it (get_scan_status, list_tasks): exactly the SPEC §3 fields. */
export interface PublicTask {
  task_id: string;
  status: TaskStatus;
  phase: TaskPhase;
  progress: number;
  scanner_pool: string;
  scanner_instance: string | null;
  nessus_scan_id: number | null;
  trace_id: string;
  targets: string[];
  name: string;
  description: string | null;
  scan_type: ScanType;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  error: string | null;
  authentication_status: AuthenticationStatus;
  results_summary: ResultsSummary | null;
}

/** Keys of PublicTask, in output order (for output schemas that must list them). */
export const PUBLIC_TASK_FIELDS = [
  'task_id',
  'status',
  'phase',
  'progress',
  'scanner_pool',
  'scanner_instance',
  'nessus_scan_id',
  'trace_id',
  'targets',
  'name',
  'description',
  'scan_type',
  'created_at',
  'started_at',
  'completed_at',
  'error',
  'authentication_status',
  'results_summary',
] as const satisfies ReadonlyArray<keyof PublicTask>;

/** The public view: internal fields (version, history, client_id, key hashes, resolved targets) dropped. */
export function toPublicTask(task: Task): PublicTask {
  return {
    task_id: task.task_id,
    status: task.status,
    phase: task.phase,
    progress: task.progress,
    scanner_pool: task.scanner_pool,
    scanner_instance: task.scanner_instance,
    nessus_scan_id: task.nessus_scan_id,
    trace_id: task.trace_id,
    targets: [...task.targets],
    name: task.name,
    description: task.description,
    scan_type: task.scan_type,
    created_at: task.created_at,
    started_at: task.started_at,
    completed_at: task.completed_at,
    error: task.error,
    authentication_status: task.authentication_status,
    results_summary: task.status === 'completed' ? task.results_summary : null,
  };
}
