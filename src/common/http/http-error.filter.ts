import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError, retryAfterOf, ValidationError } from '../errors';
import { redisOutageAsUnavailable } from '../redis/redis-failure';
import { ERROR_MESSAGE_LOCAL } from '../logging/access-log';

/** Error body of every HTTP error (SPEC §6). */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  trace_id: string | null;
  fields?: Record<string, string>;
  /** Per-check results of a failed health check (terminus). */
  details?: Record<string, unknown>;
}

/** Maps domain errors and Nest HTTP exceptions to `{statusCode, error, message, trace_id}`; hides internals of 5xx. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('HttpError');

  catch(thrown: unknown, host: ArgumentsHost): void {
    // Redis failing mid-request (after the checks that answer 503 up front) is still a 503 to retry.
    const exception = redisOutageAsUnavailable(thrown);
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request & { traceId?: string }>();
    if (res.headersSent) return;
    const body = this.toBody(exception, req.traceId ?? null);
    const retryAfter = retryAfterOf(exception);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
    // A 503 is an expected state (Redis down, not ready) with its own message: no stack on every probe.
    if (body.statusCode === 503) this.log.warn(`${req.method} ${req.path} unavailable: ${body.message}`);
    else if (body.statusCode >= 500) this.log.error({ err: exception }, `${req.method} ${req.path} failed`);
    res.locals[ERROR_MESSAGE_LOCAL] = body.message;
    res.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown, traceId: string | null): ErrorBody {
    if (exception instanceof AppError) {
      const body: ErrorBody = {
        statusCode: exception.status,
        error: exception.error,
        message: exception.message,
        trace_id: traceId,
      };
      if (exception instanceof ValidationError && Object.keys(exception.fields).length)
        body.fields = exception.fields;
      return body;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const resp = exception.getResponse();
      const raw = typeof resp === 'string' ? resp : (resp as { message?: unknown }).message;
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? exception.message);
      const error =
        typeof resp === 'object' && resp && 'error' in resp
          ? String((resp as { error: unknown }).error)
          : (HttpStatus[status] ?? 'Error').replace(/_/g, ' ');
      if (isHealthReport(resp)) {
        const failing = Object.keys(resp.error).join(', ');
        return {
          statusCode: status,
          error: titleCase(error),
          message: `not ready: ${failing}`,
          trace_id: traceId,
          details: resp.details,
        };
      }
      return { statusCode: status, error: titleCase(error), message, trace_id: traceId };
    }
    if (isBodyParserError(exception)) {
      return {
        statusCode: exception.status,
        error: titleCase(HttpStatus[exception.status] ?? 'Bad Request'),
        message: exception.message,
        trace_id: traceId,
      };
    }
    return {
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'internal error; see the server log with this trace_id',
      trace_id: traceId,
    };
  }
}

function isHealthReport(
  resp: unknown,
): resp is { error: Record<string, unknown>; details: Record<string, unknown> } {
  const r = resp as { error?: unknown; details?: unknown } | null;
  return typeof r === 'object' && r !== null && typeof r.error === 'object' && typeof r.details === 'object';
}

function isBodyParserError(e: unknown): e is { status: number; message: string } {
  const s = (e as { status?: unknown; type?: unknown })?.status;
  return typeof s === 'number' && s >= 400 && s < 500 && typeof (e as { type?: unknown }).type === 'string';
}

function titleCase(s: string): string {
  return s
    .toLowerCase()
    .split(/[\s_]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}
