/**
 * Domain errors, transport-agnostic: REST maps them to HTTP statuses, MCP to tool errors.
 * Messages are written for the caller and never contain credentials.
 */
export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly error: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input; `fields` names each offending field with what is wrong. */
export class ValidationError extends AppError {
  readonly status = 400;
  readonly error = 'Bad Request';
  constructor(
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }

  static forFields(fields: Record<string, string>): ValidationError {
    return new ValidationError(
      Object.entries(fields)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
      fields,
    );
  }
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly error = 'Not Found';
}

/** A request that conflicts with current state (idempotency key reuse, refused transition). */
export class ConflictError extends AppError {
  readonly status = 409;
  readonly error = 'Conflict';
}

/** A scan target refused by the target policy. */
export class ForbiddenTargetError extends AppError {
  readonly status = 403;
  readonly error = 'Forbidden';
  constructor(
    readonly target: string,
    readonly rule: string,
  ) {
    super(`target ${JSON.stringify(target)} is not allowed: ${rule}`);
  }
}

/** The client has as many unfinished tasks as MAX_ACTIVE_TASKS_PER_CLIENT allows. */
export class QuotaExceededError extends AppError {
  readonly status = 429;
  readonly error = 'Too Many Requests';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** A dependency (Redis, storage) is unavailable; the caller may retry after `retryAfterSeconds`. */
export class UnavailableError extends AppError {
  readonly status = 503;
  readonly error = 'Service Unavailable';
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
  }
}

const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * A write under DATA_DIR that failed for want of space, as a 503 naming what was not written (a step
 * that throws it is retried); any other error is returned as it is.
 */
export function whenStorageFull(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code && STORAGE_FULL.has(code)
    ? new UnavailableError(`the data directory is full (${code} writing ${what}); free space in DATA_DIR`, 30)
    : err;
}

/** Seconds after which the refused request may succeed (the `Retry-After` of a 429 or 503), if known. */
export function retryAfterOf(err: unknown): number | undefined {
  return err instanceof QuotaExceededError || err instanceof UnavailableError
    ? err.retryAfterSeconds
    : undefined;
}
