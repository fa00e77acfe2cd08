import { randomUUID } from 'node:crypto';

const SANE_TRACE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Trace-Id when it is a sane token (≤ 128 of [A-Za-z0-9._:-]), otherwise a new UUID. */
export function acceptTraceId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && SANE_TRACE_ID.test(value) ? value : randomUUID();
}
