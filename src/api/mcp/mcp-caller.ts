/**
 * Who is calling a tool. The HTTP layer (guards, trace middleware) knows; the SDK carries it to the tool
 * handler as the request's pass-through AuthInfo, per HTTP request, on every transport and era.
 */
import type { AuthInfo, ServerContext } from '@modelcontextprotocol/server';
import { acceptTraceId } from '../../common/trace/trace-id';

/** The caller of one tools/call, as the scan services want it (a CallerContext). */
export interface McpCaller {
  clientId: string;
  traceId: string;
  idempotencyHeader?: string | string[];
  xIdempotencyHeader?: string | string[];
}

/** The Node request fields the gateway reads: set by ApiKeyGuard (clientId) and the trace middleware (traceId). */
export interface GatewayRequest {
  headers: Record<string, string | string[] | undefined>;
  clientId?: string;
  traceId?: string;
  auth?: AuthInfo;
}

const EXTRA_KEY = 'nmgCaller';

/**
 * Attaches the caller to the request as `req.auth`, which the SDK transports hand to tool handlers as
 * ctx.http.authInfo. The API key itself is never copied.
 */
export function attachCaller(req: GatewayRequest, clientId: string): void {
  const caller: McpCaller = {
    clientId,
    traceId: req.traceId ?? acceptTraceId(req.headers['x-trace-id']),
    idempotencyHeader: req.headers['idempotency-key'],
    xIdempotencyHeader: req.headers['x-idempotency-key'],
  };
  req.auth = { token: '', clientId, scopes: [], extra: { [EXTRA_KEY]: caller } };
}

/** The caller of a tool call; throws when the HTTP layer did not attach one (a wiring fault, never a client's). */
export function callerOf(ctx: Pick<ServerContext, 'http'>): McpCaller {
  const caller = ctx.http?.authInfo?.extra?.[EXTRA_KEY] as McpCaller | undefined;
  if (!caller) throw new Error('MCP tool call without caller context');
  return caller;
}
