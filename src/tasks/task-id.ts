import { randomBytes } from 'node:crypto';

/**
 * Task ids: `ne_scan_YYYYMMDD_HHMMSS_<8 hex>` (UTC). The pattern is anchored and ASCII-only, so an id
 * that passes it is a safe single path segment: no dots, slashes, NUL, percent signs or look-alikes.
 */
export const TASK_ID_PATTERN = /^ne_scan_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}$/;

/** Length of every valid id; checked before the regex so huge inputs cost nothing. */
export const TASK_ID_LENGTH = 'ne_scan_20260101_000000_00000000'.length;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** A new random task id stamped with `now` in UTC. */
export function newTaskId(now: Date = new Date()): string {
  const date = `${pad(now.getUTCFullYear(), 4)}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `ne_scan_${date}_${time}_${randomBytes(4).toString('hex')}`;
}

/** True only for a string of exactly the task id shape; anything else (other types included) is false. */
export function isValidTaskId(id: unknown): id is string {
  return typeof id === 'string' && id.length === TASK_ID_LENGTH && TASK_ID_PATTERN.test(id);
}
