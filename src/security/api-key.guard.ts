import {
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';

/** One configured API key: the client's name for logs and scoping, and the SHA-256 of its token. */
export interface ApiKey {
  clientId: string;
  digest: Buffer;
}

/** The request fields the guards read and set. */
export interface ClientRequest {
  headers: Record<string, string | string[] | undefined>;
  /** Who is calling: the API key's name, `key-<hash prefix>`, or 'anonymous' when no keys are configured. */
  clientId?: string;
  ip?: string;
}

/** clientId of every request when API_KEYS is empty. */
export const ANONYMOUS_CLIENT = 'anonymous';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Parses API_KEYS entries: `token` or `name:token` (split at the first colon when the part before it is a
 * plain name). A key without a name is identified as `key-` + the first 12 hex digits of its SHA-256.
 */
export function parseApiKeys(entries: string[]): ApiKey[] {
  return entries.map((entry) => {
    const colon = entry.indexOf(':');
    const named = colon > 0 && NAME.test(entry.slice(0, colon));
    const token = named ? entry.slice(colon + 1) : entry;
    if (token.length === 0)
      throw new Error(`API_KEYS: the entry named ${entry.slice(0, colon)} has no token`);
    const digest = sha256(token);
    return { clientId: named ? entry.slice(0, colon) : `key-${digest.toString('hex').slice(0, 12)}`, digest };
  });
}

/**
 * The client an `Authorization: Bearer <key>` header belongs to, or null when it names no configured key.
 * Digests are compared in constant time, and every key is compared, so timing reveals neither the key nor
 * which one matched.
 */
export function identifyClient(
  authorizationHeader: string | string[] | undefined,
  keys: ApiKey[],
): { clientId: string } | null {
  if (typeof authorizationHeader !== 'string') return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorizationHeader);
  if (!match) return null;
  const presented = sha256(match[1]);
  let found: string | null = null;
  for (const key of keys) {
    if (timingSafeEqual(presented, key.digest) && found === null) found = key.clientId;
  }
  return found === null ? null : { clientId: found };
}

const PUBLIC_ROUTE = 'nmg:public-route';

/** Marks a controller or handler as open without an API key (health probes, public metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The calling client's id (set by ApiKeyGuard) as a handler parameter. */
export const ClientId = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): string =>
    ctx.switchToHttp().getRequest<ClientRequest>().clientId ?? ANONYMOUS_CLIENT,
);

/**
 * Requires `Authorization: Bearer <key>` from API_KEYS (SPEC §8) and records the caller as
 * `request.clientId`; answers 401 with `WWW-Authenticate: Bearer` otherwise. With no API_KEYS every
 * request passes as 'anonymous' (start-up already refused a non-loopback HOST in that case).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: ApiKey[];

  constructor(
    config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.keys = parseApiKeys(config.security.apiKeys);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<ClientRequest>();
    if (this.keys.length === 0) {
      request.clientId = ANONYMOUS_CLIENT;
      return true;
    }
    // Already identified by requireApiKey (every /api request): the key is not hashed a second time.
    if (request.clientId !== undefined) return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    const header = request.headers.authorization;
    const client = identifyClient(header, this.keys);
    if (client) {
      request.clientId = client.clientId;
      return true;
    }
    if (isPublic) return true;
    const response = context.switchToHttp().getResponse<{ setHeader(name: string, value: string): void }>();
    const refusal = unauthorized(header);
    response.setHeader('WWW-Authenticate', refusal.challenge);
    throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message: refusal.message });
  }
}

/** The 401 for a request without a valid key: its WWW-Authenticate challenge and message. */
export function unauthorized(authorizationHeader: string | string[] | undefined): {
  challenge: string;
  message: string;
} {
  return authorizationHeader === undefined
    ? { challenge: 'Bearer', message: 'an API key is required: send Authorization: Bearer <key>' }
    : { challenge: 'Bearer error="invalid_token"', message: 'the bearer token is not a valid API key' };
}

/**
 * Refuses every request under /api without a valid key before routing (SPEC §8), so a path that does
 * not exist answers 401 like one that does, not a 404 naming which exist; Swagger's documents there
 * are served outside Nest's guards too. The client it identifies is what ApiKeyGuard and the rate limit use.
 */
export function requireApiKey(keys: ApiKey[]) {
  return (
    req: ClientRequest & { traceId?: string },
    res: { setHeader(name: string, value: string): void; status(code: number): { json(body: object): void } },
    next: () => void,
  ): void => {
    if (keys.length === 0) return next();
    const client = identifyClient(req.headers.authorization, keys);
    if (client) {
      req.clientId = client.clientId;
      return next();
    }
    const refusal = unauthorized(req.headers.authorization);
    res.setHeader('WWW-Authenticate', refusal.challenge);
    res.status(401).json({
      statusCode: 401,
      error: 'Unauthorized',
      message: refusal.message,
      trace_id: req.traceId,
    });
  };
}
