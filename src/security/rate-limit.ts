import { ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { ANONYMOUS_CLIENT, ApiKey, ClientRequest, identifyClient, parseApiKeys } from './api-key.guard';
import { HitLogStorage } from './hit-log-storage';

/** The rate-limit window: RATE_LIMIT_PER_MINUTE requests per client per minute. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** ThrottlerModule options for RATE_LIMIT_PER_MINUTE (the throttler is named 'default' so 429s carry `Retry-After`). */
export function throttlerOptions(config: AppConfig): ThrottlerModuleOptions {
  return {
    throttlers: [{ name: 'default', ttl: RATE_LIMIT_WINDOW_MS, limit: config.security.rateLimitPerMinute }],
    storage: new HitLogStorage(),
  };
}

/**
 * Per-client rate limit (MCP tools spec: rate limit tool invocations; OWASP API4): one budget per API key
 * across every route, or per address when the service runs without keys. Over the limit: 429 with
 * `Retry-After` in seconds. Counts live in process memory, so each API replica enforces the limit itself.
 */
@Injectable()
export class ClientRateLimitGuard extends ThrottlerGuard {
  private readonly keys: ApiKey[];

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    config: AppConfig,
  ) {
    super(options, storage, reflector);
    this.keys = parseApiKeys(config.security.apiKeys);
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as ClientRequest;
    // Works before or after ApiKeyGuard: identify the key here if the guard has not run yet
    const clientId = request.clientId ?? identifyClient(request.headers?.authorization, this.keys)?.clientId;
    if (clientId && clientId !== ANONYMOUS_CLIENT) return `client:${clientId}`;
    return `ip:${await super.getTracker(req)}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `rate:${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    const response = context.switchToHttp().getResponse<{ setHeader(name: string, value: string): void }>();
    response.setHeader('Retry-After', String(retryAfter));
    const perMinute = Math.round((detail.limit * RATE_LIMIT_WINDOW_MS) / detail.ttl);
    throw new HttpException(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: `rate limit of ${perMinute} requests per minute exceeded; retry after ${retryAfter} s`,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
