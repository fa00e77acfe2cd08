import { Task, TERMINAL_STATUSES } from '../tasks/task';

/** What a claimed key remembers. */
export interface IdempotencyRecord {
  taskId: string;
  fingerprint: string;
}

/** A key as a task file remembers it, with how long it has left to live. */
export interface RestoredKey extends IdempotencyRecord {
  keyHash: string;
  ttlSeconds: number;
}

/**
 * The key a stored task holds, as it is put back after Redis lost it: an unfinished task's for a whole
 * TTL (its steps go on renewing it), a finished one's for what is left of the TTL its end started, and
 * none once that has passed (a new request may then use the key, as it could have before the loss).
 */
export function restorableKey(task: Task, ttlSeconds: number, nowMs: number): RestoredKey | null {
  const keyHash = task.idempotency_key_hash;
  // Tasks stored before the fingerprint was kept can't tell a replay from a different request.
  const fingerprint = task.idempotency_fingerprint;
  if (!keyHash || !fingerprint) return null;
  const endedMs = TERMINAL_STATUSES.has(task.status) ? Date.parse(task.completed_at ?? '') : NaN;
  const left = Number.isNaN(endedMs) ? ttlSeconds : ttlSeconds - (nowMs - endedMs) / 1000;
  if (left < 1) return null;
  return { keyHash, taskId: task.task_id, fingerprint, ttlSeconds: Math.ceil(left) };
}
