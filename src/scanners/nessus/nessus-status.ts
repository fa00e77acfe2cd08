/** Our view of a Nessus scan's run state. */
export type NessusRunState = 'idle' | 'pending' | 'running' | 'completed' | 'canceled' | 'aborted';

/**
 * Every Nessus `info.status` (NESSUS_API.md §6.2) and how we read it:
 *
 * | Nessus status                                                   | ours      | terminal |
 * |-----------------------------------------------------------------|-----------|----------|
 * | empty (created, never launched)                                 | idle      | no       |
 * | pending, initializing                                           | pending   | no       |
 * | running, pausing, paused, resuming, stopping, canceling,        | running   | no       |
 * |   processing, publishing                                        |           |          |
 * | completed, imported                                             | completed | yes      |
 * | canceled, cancelled, stopped                                    | canceled  | yes      |
 * | aborted                                                         | aborted   | yes      |
 * | anything else (unknown to us)                                   | running   | no       |
 *
 * Unknown values are treated as still in progress so a new Nessus status never ends a task early.
 */
export const NESSUS_STATUS_MAP: Readonly<Record<string, NessusRunState>> = {
  empty: 'idle',
  pending: 'pending',
  initializing: 'pending',
  running: 'running',
  pausing: 'running',
  paused: 'running',
  resuming: 'running',
  stopping: 'running',
  canceling: 'running',
  processing: 'running',
  publishing: 'running',
  completed: 'completed',
  imported: 'completed',
  canceled: 'canceled',
  cancelled: 'canceled',
  stopped: 'canceled',
  aborted: 'aborted',
};

export function isKnownNessusStatus(status: string): boolean {
  return Object.prototype.hasOwnProperty.call(NESSUS_STATUS_MAP, status);
}

export function mapNessusStatus(status: string | null | undefined): NessusRunState {
  if (!status) return 'idle';
  return isKnownNessusStatus(status) ? NESSUS_STATUS_MAP[status] : 'running';
}

export function isTerminalState(state: NessusRunState): boolean {
  return state === 'completed' || state === 'canceled' || state === 'aborted';
}

/** The subset of a `hosts[]` entry of GET /scans/{id} that progress needs. */
export interface NessusHostProgress {
  scanprogresscurrent?: number | string | null;
  scanprogresstotal?: number | string | null;
  progress?: string | null;
}

function hostFraction(h: NessusHostProgress): number {
  const current = Number(h.scanprogresscurrent);
  const total = Number(h.scanprogresstotal);
  if (Number.isFinite(current) && Number.isFinite(total) && total > 0) return current / total;
  // "a-b/c-d": the first pair mirrors current-total
  const m = /^(\d+)-(\d+)/.exec(h.progress ?? '');
  if (m && Number(m[2]) > 0) return Number(m[1]) / Number(m[2]);
  return 0;
}

/**
 * Progress 0-100 as NESSUS_API.md §6.3 describes: terminal → 100, idle/pending → 0, otherwise the mean
 * of per-host fractions over max(hosts seen, hosts expected), since hosts only appear once the engine
 * starts on them. An explicit `infoProgress` (some versions send one) wins. A scan still in progress
 * reports at most 99.
 */
export function computeProgress(
  state: NessusRunState,
  hosts: readonly NessusHostProgress[] | null | undefined,
  expectedHosts?: number,
  infoProgress?: number | null,
): number {
  if (isTerminalState(state)) return 100;
  if (state === 'idle' || state === 'pending') return 0;
  let pct: number;
  if (typeof infoProgress === 'number' && Number.isFinite(infoProgress)) {
    pct = infoProgress;
  } else {
    const list = hosts ?? [];
    const denominator = Math.max(list.length, expectedHosts && expectedHosts > 0 ? expectedHosts : 0);
    if (denominator === 0) return 0;
    const sum = list.reduce((acc, h) => acc + Math.min(1, Math.max(0, hostFraction(h))), 0);
    pct = (sum / denominator) * 100;
  }
  return Math.max(0, Math.min(99, Math.floor(pct)));
}
