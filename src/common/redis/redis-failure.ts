import { UnavailableError } from '../errors';

/**
 * Whether an error means Redis cannot serve now (down, unreachable, timed out, out of memory under
 * noeviction, loading, a read-only replica) rather than a fault in what was asked: the caller may retry.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (err.name === 'ReplyError')
    return /^(OOM|LOADING|READONLY|MASTERDOWN|BUSY|CLUSTERDOWN)\b/.test(err.message);
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|ECONNREFUSED/i.test(
    err.message,
  );
}

/** A Redis outage as the 503 (with Retry-After) the transports answer; any other error unchanged. */
export function redisOutageAsUnavailable(err: unknown): unknown {
  return isRedisUnavailable(err)
    ? new UnavailableError(`Redis is unavailable (${(err as Error).message}); retry shortly`)
    : err;
}
