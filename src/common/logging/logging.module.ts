import { DynamicModule, Module } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../../config/app-config';
import { REDACT_PATHS } from '../../security/redaction';
import { acceptTraceId } from '../trace/trace-id';
import { currentTraceFields } from './trace-context';

type TracedRequest = IncomingMessage & { traceId?: string };

/**
 * pino JSON lines with secrets redacted at the logger, and a trace context (AsyncLocalStorage via
 * nestjs-cls) whose trace_id/task_id/client_id are added to every line written inside a request or job.
 */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        ClsModule.forRoot({
          global: true,
          middleware: {
            mount: true,
            setup: (cls, req: TracedRequest, res: ServerResponse) => {
              const traceId = req.traceId ?? acceptTraceId(req.headers['x-trace-id']);
              req.traceId = traceId;
              cls.set('trace_id', traceId);
              res.setHeader('X-Trace-Id', traceId);
            },
          },
        }),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            base: { mode: config.mode },
            messageKey: 'msg',
            timestamp: () => `,"time":"${new Date().toISOString()}"`,
            redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
            mixin: () => ({ ...currentTraceFields() }),
            // The trace id doubles as the request id so the access log line and the app lines match.
            genReqId: (req: TracedRequest, res: ServerResponse) => {
              const traceId = req.traceId ?? acceptTraceId(req.headers['x-trace-id']);
              req.traceId = traceId;
              res.setHeader('X-Trace-Id', traceId);
              return traceId;
            },
            autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
            serializers: {
              req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
            },
          },
        }),
      ],
    };
  }
}
