import type { NessusRunState } from '../scanners/nessus/nessus-status';

/** Bull queue names. */
export enum QueueName {
  /** Every step of every scan: short, idempotent jobs driven by the task file. */
  ScanSteps = 'scan-steps',
}

/** Job names on the scan-steps queue. */
export enum ScanJob {
  /** Advance a task by one step from what its task file says. */
  Advance = 'advance',
}

/** Job payloads carry ids, never documents or credentials. */
export interface AdvanceJobData {
  taskId: string;
  traceId: string;
  /** Position in the current step's retry/poll sequence; part of the next job's id. */
  seq: number;
  /**
   * Tag of a chain started again (a wake, the reconciler, a dead-letter retry), appended to its later
   * steps' job ids: Bull ignores an add under the id of a finished job it still keeps (an hour), so a
   * new chain reusing the old chain's ids would end at its first wait.
   */
  chain?: string;
  /** What a watcher saw of the scan when it handed this poll back, so the step need not ask Nessus again. */
  seen?: SeenScan;
}

/** A scan's state and progress as one `GET /scans/{id}` answered, and when (ms since the epoch). */
export interface SeenScan {
  state: NessusRunState;
  nessusStatus: string;
  progress: number;
  atMs: number;
}
