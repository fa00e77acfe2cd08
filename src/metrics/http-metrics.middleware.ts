import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/**
 * The route template a request matched, for a low-cardinality latency label: the Nest route
 * ("/api/v1/scans/:task_id"), a path under a mounted router ("/admin/queues/*"), or "unmatched".
 */
export function routeLabel(req: Pick<Request, 'route' | 'baseUrl'>): string {
  const template = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof template === 'string') return `${req.baseUrl ?? ''}${template}` || '/';
  if (req.baseUrl) return `${req.baseUrl}/*`;
  return 'unmatched';
}

/**
 * Records the latency of every HTTP request when its response ends. A middleware rather than an
 * interceptor, so requests refused by a guard (401, 429) and non-Nest routes (Bull Board) count too.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A client that hangs up before the answer is recorded with status 499, as proxies do.
      const status = res.writableFinished ? res.statusCode : 499;
      this.metrics.httpRequest(req.method, routeLabel(req), status, seconds);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  }
}
