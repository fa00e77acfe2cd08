import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { acceptTraceId } from '../trace/trace-id';
import { runWithTraceFields } from './trace-context';

type TracedRequest = Request & { traceId?: string };

/** Set by the error filter on `res.locals`: why a request was refused, for its access line. */
export const ERROR_MESSAGE_LOCAL = 'errorMessage';

/**
 * The first middleware of every request: settles its trace id (X-Trace-Id in and out), runs the rest of
 * the request in a trace context carrying it, and writes one access line when the response ends (not
 * for /health/*). Mounted before the body parser, so refused bodies get their trace id and line too.
 */
export function traceRequests(logger: Logger) {
  return (req: TracedRequest, res: Response, next: NextFunction): void => {
    const traceId = acceptTraceId(req.headers['x-trace-id']);
    req.traceId = traceId;
    res.setHeader('X-Trace-Id', traceId);
    if (!req.url.startsWith('/health')) {
      const started = performance.now();
      res.once('close', () => {
        // A client that hangs up before the answer is logged with status 499, as proxies do.
        const statusCode = res.writableFinished ? res.statusCode : 499;
        const error = res.locals[ERROR_MESSAGE_LOCAL] as string | undefined;
        logger.info(
          {
            req: { method: req.method, url: req.originalUrl },
            res: { statusCode },
            responseTime: Math.round(performance.now() - started),
            trace_id: traceId,
            ...(error ? { error } : {}),
          },
          'request completed',
        );
      });
    }
    runWithTraceFields({ trace_id: traceId }, next);
  };
}
