import type { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Level, Logger } from 'pino';
import { REDACT_PATHS, REDACTED } from '../../security/redaction';
import { currentTraceFields } from './trace-context';

/**
 * The process's pino logger: JSON lines on stdout (or `destination`), secrets redacted, and the trace
 * fields of the running context on every line.
 */
export function createAppLogger(
  options: { level: string; mode: string },
  destination?: DestinationStream,
): Logger {
  const settings = {
    level: options.level,
    base: { mode: options.mode },
    messageKey: 'msg',
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    mixin: currentTraceFields,
  };
  // pino's stdout is written synchronously, so no line is lost when the process dies.
  return destination ? pino(settings, destination) : pino(settings);
}

/**
 * Nest's logger interface over pino. Nest appends the calling logger's context as the last argument;
 * it becomes the `context` field. An object first argument is merged into the line (an Error becomes
 * `err`), and the string after it is the message.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    const rest = params.slice(0, -1);
    const context = params.at(-1);
    if (typeof context === 'string') fields.context = context;
    else if (context !== undefined) rest.push(context);
    const text = rest.find((p): p is string => typeof p === 'string');
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, text ?? message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...message }, text);
    } else if (level === 'error' && text?.includes('\n    at ')) {
      // Nest's own exception handlers call error(message, stack, context).
      const err = Object.assign(new Error(String(message)), { stack: text });
      this.logger.error({ ...fields, err }, String(message));
    } else {
      this.logger[level](fields, String(message));
    }
  }
}
