/**
 * wait: true for the run_*_scan tools: poll the task until it reaches a terminal state and report MCP
 * progress on the way. Pure: no framework imports (time and I/O are passed in).
 */
import { TaskPhase, TaskStatus, TERMINAL_STATUSES } from '../../../tasks/task';

/** The task fields progress reporting reads. */
export interface ProgressSample {
  status: TaskStatus;
  phase: TaskPhase;
  progress: number;
}

/** One notifications/progress payload (without the token). */
export interface ProgressReport {
  progress: number;
  total: number;
  message: string;
}

export interface WaitOptions {
  /** How often the task is read. */
  pollMs: number;
  /** Give up waiting (not the scan) after this long and return the task as it is. */
  maxWaitMs: number;
  /** Report even without a change this often, so clients that reset their timeout on progress keep waiting. */
  heartbeatMs: number;
}

export const DEFAULT_WAIT: WaitOptions = { pollMs: 1000, maxWaitMs: 10 * 60_000, heartbeatMs: 20_000 };

export interface WaitOutcome<T extends ProgressSample> {
  task: T;
  /** True when maxWaitMs passed before the task was terminal. */
  gaveUp: boolean;
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function describe(task: ProgressSample): string {
  return TERMINAL_STATUSES.has(task.status)
    ? `scan ${task.status}`
    : `scan ${task.status}, phase ${task.phase}, ${Math.round(task.progress)}%`;
}

/**
 * Reads the task every pollMs and reports progress whenever its status, phase or progress changes (and at
 * least every heartbeatMs). Reported progress only ever grows, as MCP requires, ending at 100 for a
 * terminal task. Stops when the task is terminal, maxWaitMs has passed or the signal aborts (the client
 * cancelled or went away, or the server is shutting down).
 */
export async function waitForTerminal<T extends ProgressSample>(
  read: () => Promise<T>,
  report: (p: ProgressReport) => Promise<void>,
  signal: AbortSignal,
  options: WaitOptions = DEFAULT_WAIT,
  now: () => number = Date.now,
): Promise<WaitOutcome<T>> {
  const deadline = now() + options.maxWaitMs;
  let last = -1;
  let lastKey = '';
  let lastReportAt = -Infinity;
  for (;;) {
    const task = await read();
    const terminal = TERMINAL_STATUSES.has(task.status);
    const key = `${task.status}/${task.phase}/${task.progress}`;
    const heartbeatDue = now() - lastReportAt >= options.heartbeatMs;
    if (terminal || key !== lastKey || heartbeatDue) {
      // Strictly increasing, and below 100 until the task is terminal.
      const step = Math.max(task.progress, last + 0.1);
      const value = terminal ? 100 : step <= 99 ? step : last + (100 - last) / 10;
      if (value > last) {
        last = value;
        lastReportAt = now();
        await report({ progress: last, total: 100, message: describe(task) }).catch(() => undefined);
      }
      lastKey = key;
    }
    if (terminal) return { task, gaveUp: false };
    if (signal.aborted || now() >= deadline) return { task, gaveUp: true };
    await pause(Math.min(options.pollMs, Math.max(0, deadline - now())), signal);
  }
}
