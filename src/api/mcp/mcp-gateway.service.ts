import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import type { NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import {
  classifyInboundRequest,
  createMcpHandler,
  isInitializeRequest,
  isJsonContentType,
  McpServer,
} from '@modelcontextprotocol/server';
import type { McpHttpHandler, Transport } from '@modelcontextprotocol/server';
import { SSEServerTransport } from '@modelcontextprotocol/server-legacy/sse';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../../config/app-config';
import { ANONYMOUS_CLIENT } from '../../security/api-key.guard';
import { attachCaller, GatewayRequest } from './mcp-caller';
import { McpServerBuilder } from './mcp-server.builder';
import { McpSessions, SessionResource } from './mcp-sessions';

/** The Node request as Nest hands it over: parsed JSON body, guards' and middleware's fields. */
export type McpHttpRequest = IncomingMessage &
  GatewayRequest & { body?: unknown; query?: Record<string, unknown> };

/** Path the legacy SSE stream tells its client to POST messages to. */
export const SSE_MESSAGES_PATH = '/messages';

class Session implements SessionResource {
  constructor(
    readonly server: McpServer,
    readonly transport: NodeStreamableHTTPServerTransport | SSEServerTransport,
  ) {}

  close(): Promise<void> {
    return this.server.close();
  }
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function header(req: McpHttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Whether a POST with its parsed JSON body is 2025-era traffic: the SDK's isLegacyRequest decision,
 * taken from the headers and the parsed body without building a web Request (a copy and a
 * re-serialised body per call) just to ask. A POST without a JSON body is legacy, as there.
 */
function isLegacyPost(req: McpHttpRequest, body: unknown): boolean {
  if (body === undefined) return true;
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader: header(req, 'mcp-protocol-version'),
    mcpMethodHeader: header(req, 'mcp-method'),
    mcpNameHeader: header(req, 'mcp-name'),
    body,
  });
  return outcome.kind === 'legacy';
}

/**
 * Serves MCP over HTTP with the official SDK, for every protocol era and transport a client may use:
 *
 * - POST /mcp carrying the 2026-07-28 per-request envelope: the SDK's stateless modern handler
 *   (createMcpHandler), a fresh server per request;
 * - the 2025 revisions on /mcp (initialize, Mcp-Session-Id, GET stream, DELETE): one sessionful
 *   Streamable HTTP transport and server per session, routed with the SDK's own isLegacyRequest;
 * - the legacy HTTP+SSE transport: GET /sse opens a session, POST /messages?sessionId= feeds it.
 *
 * Sessions belong to the API key that opened them, end when the client deletes them or its stream goes
 * away, and are closed after MCP_SESSION_IDLE_SECONDS without a request.
 */
@Injectable()
export class McpGateway implements OnModuleDestroy {
  private readonly log = new Logger(McpGateway.name);
  private readonly streamable: McpSessions<Session>;
  private readonly sse: McpSessions<Session>;
  private readonly modern: McpHttpHandler;
  private readonly serveModern: NodeMcpRequestHandler;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    config: AppConfig,
    private readonly servers: McpServerBuilder,
  ) {
    const idleMs = config.mcp.sessionIdleSeconds * 1000;
    this.streamable = new McpSessions(idleMs);
    this.sse = new McpSessions(idleMs);
    const onerror = (err: Error) => this.log.warn(`MCP request failed: ${err.message}`);
    this.modern = createMcpHandler(() => this.servers.create(), { legacy: 'reject', onerror });
    this.serveModern = toNodeHandler(this.modern, {
      onerror,
      maxRequestBodySize: config.http.bodyLimitBytes,
    });
    this.sweeper = setInterval(() => void this.sweep(), Math.min(idleMs / 2, 60_000));
    this.sweeper.unref();
  }

  /** Open sessions per transport (for tests and metrics). */
  sessionCounts(): { streamable: number; sse: number } {
    return { streamable: this.streamable.size, sse: this.sse.size };
  }

  /** POST, GET or DELETE /mcp. */
  async handleStreamable(req: McpHttpRequest, res: ServerResponse): Promise<void> {
    const clientId = req.clientId ?? ANONYMOUS_CLIENT;
    attachCaller(req, clientId);
    const body = req.method === 'POST' ? req.body : undefined;
    if (req.method === 'POST') {
      if (!isJsonContentType(header(req, 'content-type'))) {
        return jsonRpcError(
          res,
          415,
          -32000,
          'Unsupported Media Type: Content-Type must be application/json',
        );
      }
      // A POST carrying the 2026-07-28 envelope goes to the stateless modern handler.
      if (!isLegacyPost(req, body)) return this.serveModern(req, res, body);
    }

    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const session = this.streamable.get(sessionId, clientId);
      if (!session) {
        return jsonRpcError(
          res,
          404,
          -32001,
          'Session not found: it was closed or expired; send initialize to start a new one',
        );
      }
      res.on('close', this.streamable.begin(sessionId));
      return (session.transport as NodeStreamableHTTPServerTransport).handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return jsonRpcError(
        res,
        400,
        -32000,
        'Bad Request: Mcp-Session-Id header is required; send initialize first',
      );
    }
    return this.openStreamableSession(req, res, body, clientId);
  }

  /** GET /sse: opens a legacy HTTP+SSE session whose stream stays open until the client goes away. */
  async openSse(req: McpHttpRequest, res: ServerResponse): Promise<void> {
    const clientId = req.clientId ?? ANONYMOUS_CLIENT;
    const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
    const server = this.servers.create();
    const sessionId = transport.sessionId;
    server.server.onclose = () => void this.sse.remove(sessionId);
    this.sse.add(sessionId, clientId, new Session(server, transport));
    await server.connect(transport as unknown as Transport);
  }

  /** POST /messages?sessionId=: one client message for a legacy SSE session; the answer goes on its stream. */
  async postSseMessage(req: McpHttpRequest, res: ServerResponse): Promise<void> {
    const clientId = req.clientId ?? ANONYMOUS_CLIENT;
    const raw = req.query?.sessionId;
    const sessionId = typeof raw === 'string' ? raw : '';
    const session = this.sse.get(sessionId, clientId);
    if (!session) {
      return jsonRpcError(res, 404, -32001, 'Session not found: open a new stream with GET /sse');
    }
    attachCaller(req, clientId);
    res.on('close', this.sse.begin(sessionId));
    await (session.transport as SSEServerTransport).handlePostMessage(req, res, req.body);
  }

  private async openStreamableSession(
    req: McpHttpRequest,
    res: ServerResponse,
    body: unknown,
    clientId: string,
  ): Promise<void> {
    const server = this.servers.create();
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Registered only once initialize succeeded, under the id the client will present.
      onsessioninitialized: (id): void => this.streamable.add(id, clientId, session),
      onsessionclosed: (id) => void this.streamable.remove(id),
    });
    const session: Session = new Session(server, transport);
    server.server.onclose = () => {
      if (transport.sessionId) this.streamable.remove(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  private async sweep(): Promise<void> {
    const onError = (id: string, err: unknown) =>
      this.log.warn(`closing idle MCP session ${id.slice(0, 8)}… failed: ${(err as Error).message}`);
    const closed = (await this.streamable.sweep(onError)) + (await this.sse.sweep(onError));
    if (closed > 0) this.log.log(`closed ${closed} idle MCP session(s)`);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    const onError = (id: string, err: unknown) =>
      this.log.warn(`closing MCP session ${id.slice(0, 8)}… failed: ${(err as Error).message}`);
    await Promise.all([this.streamable.closeAll(onError), this.sse.closeAll(onError), this.modern.close()]);
  }
}
