import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields bound to the current request or job and added to every log line written inside it. */
export interface TraceFields {
  trace_id?: string;
  task_id?: string;
  client_id?: string;
}

const storage = new AsyncLocalStorage<TraceFields>();

/** The trace fields of the running async context (request or job), as a new object; empty outside one. */
export function currentTraceFields(): TraceFields {
  const fields = storage.getStore();
  // A copy: pino merges a line's own fields into what its mixin returns.
  return fields ? { ...fields } : {};
}

/** Binds fields to the running context, so later log lines in it carry them. */
export function bindTraceFields(fields: TraceFields): void {
  const bound = storage.getStore();
  if (!bound) return;
  for (const [k, v] of Object.entries(fields) as [keyof TraceFields, string | undefined][]) {
    if (v) bound[k] = v;
  }
}

/** Runs `fn` in a fresh context carrying `fields` (a request, or a queue job, which has no request). */
export function runWithTraceFields<T>(fields: TraceFields, fn: () => T): T {
  return storage.run({}, () => {
    bindTraceFields(fields);
    return fn();
  });
}
