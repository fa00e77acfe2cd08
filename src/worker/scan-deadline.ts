import { Task } from '../tasks/task';

/** When a task's scan has run SCAN_TIMEOUT_SECONDS (ms since the epoch), counted from its start. */
export function scanDeadlineMs(
  task: Pick<Task, 'started_at' | 'launched_at' | 'created_at'>,
  timeoutSeconds: number,
): number {
  const startedMs = Date.parse(task.started_at ?? task.launched_at ?? task.created_at);
  return startedMs + timeoutSeconds * 1000;
}

/** The error of a task that ended `timeout`. */
export function scanTimeoutError(timeoutSeconds: number): string {
  return `scan ran longer than SCAN_TIMEOUT_SECONDS (${timeoutSeconds} s) and was stopped`;
}
