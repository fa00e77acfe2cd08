import { ClsServiceManager } from 'nestjs-cls';

/** Fields bound to the current request or job and added to every log line written inside it. */
export interface TraceFields {
  trace_id?: string;
  task_id?: string;
  client_id?: string;
}

const KEYS: (keyof TraceFields)[] = ['trace_id', 'task_id', 'client_id'];

/** The trace fields of the running async context (request or job); empty outside one. */
export function currentTraceFields(): TraceFields {
  const cls = ClsServiceManager.getClsService();
  if (!cls.isActive()) return {};
  const out: TraceFields = {};
  for (const k of KEYS) {
    const v = cls.get<string | undefined>(k);
    if (v) out[k] = v;
  }
  return out;
}

/** Binds fields to the running context, so later log lines in it carry them. */
export function bindTraceFields(fields: TraceFields): void {
  const cls = ClsServiceManager.getClsService();
  if (!cls.isActive()) return;
  for (const [k, v] of Object.entries(fields)) if (v) cls.set(k, v);
}

/** Runs `fn` in a fresh context carrying `fields` (used for queue jobs, which have no request). */
export function runWithTraceFields<T>(fields: TraceFields, fn: () => Promise<T>): Promise<T> {
  const cls = ClsServiceManager.getClsService();
  return cls.run(() => {
    bindTraceFields(fields);
    return fn();
  });
}
