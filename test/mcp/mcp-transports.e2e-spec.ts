import { Client as V2Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpGateway } from '../../src/api/mcp/mcp-gateway.service';
import {
  API_KEY,
  AnyClient,
  CLIENT_KINDS,
  connectClient,
  McpTestEnv,
  OTHER_API_KEY,
  startMcpTestEnv,
  ToolInfo,
} from './support';
import { initializeRequest, RAW_PROTOCOL_VERSION } from '../support/mcp-raw';

jest.setTimeout(60_000);

const TOOL_NAMES = [
  'cancel_scan',
  'get_pool_status',
  'get_queue_status',
  'get_scan_results',
  'get_scan_status',
  'list_pools',
  'list_scanners',
  'list_tasks',
  'run_authenticated_scan',
  'run_untrusted_scan',
];

const INITIALIZE = initializeRequest('raw');

describe('MCP transports, eras and HTTP security', () => {
  let env: McpTestEnv;
  const clients: AnyClient[] = [];

  beforeAll(async () => {
    env = await startMcpTestEnv();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await env?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL(path, env.baseUrl), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body),
    });

  describe('tools/list', () => {
    const listings: Record<string, ToolInfo[]> = {};

    it.each(CLIENT_KINDS)(
      'lists the ten tools with input and output schemas to the %s client',
      async (kind) => {
        const client = await connectClient(kind, env.baseUrl);
        clients.push(client);
        const { tools } = await client.listTools();
        listings[kind] = tools;
        expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
        for (const tool of tools) {
          expect(tool.inputSchema.type).toBe('object');
          expect(tool.outputSchema?.type).toBe('object');
          expect(tool.outputSchema?.additionalProperties).toBe(false);
          expect(tool.description?.length).toBeGreaterThan(80);
        }
      },
    );

    it('shows every client the same static tool definitions', async () => {
      const again = await connectClient('v2-streamable', env.baseUrl);
      clients.push(again);
      const byName = (tools: ToolInfo[]) =>
        Object.fromEntries(
          tools.map((t) => [
            t.name,
            { description: t.description, input: t.inputSchema, output: t.outputSchema },
          ]),
        );
      const reference = byName((await again.listTools()).tools);
      for (const kind of CLIENT_KINDS) expect(byName(listings[kind])).toEqual(reference);
      expect(reference).toMatchSnapshot();
    });

    it('describes the arguments of SPEC §5 exactly', () => {
      const args = (name: string) => {
        const tool = listings['v2-streamable'].find((t) => t.name === name)!;
        return {
          all: Object.keys(tool.inputSchema.properties as object).sort(),
          required: ((tool.inputSchema.required as string[] | undefined) ?? []).sort(),
        };
      };
      expect(args('run_untrusted_scan')).toEqual({
        all: [
          'description',
          'idempotency_key',
          'name',
          'scanner_instance',
          'scanner_pool',
          'schema_profile',
          'targets',
          'wait',
        ],
        required: ['name', 'targets'],
      });
      expect(args('run_authenticated_scan').all).toEqual(
        [
          ...args('run_untrusted_scan').all,
          'elevate_privileges_with',
          'escalation_account',
          'escalation_password',
          'scan_type',
          'ssh_password',
          'ssh_private_key',
          'ssh_username',
        ].sort(),
      );
      expect(args('get_scan_status')).toEqual({ all: ['task_id'], required: ['task_id'] });
      expect(args('cancel_scan')).toEqual({ all: ['task_id'], required: ['task_id'] });
      expect(args('get_scan_results')).toEqual({
        all: ['custom_fields', 'filters', 'page', 'page_size', 'schema_profile', 'task_id'],
        required: ['task_id'],
      });
      expect(args('list_tasks')).toEqual({
        all: ['limit', 'scanner_pool', 'status_filter', 'target_filter'],
        required: [],
      });
      expect(args('list_scanners')).toEqual({ all: ['scanner_pool'], required: [] });
      expect(args('get_pool_status')).toEqual({ all: ['scanner_pool'], required: [] });
      expect(args('get_queue_status')).toEqual({ all: ['scanner_pool'], required: [] });
      expect(args('list_pools')).toEqual({ all: [], required: [] });
    });
  });

  describe('authentication and Origin', () => {
    it.each([
      ['POST', '/mcp'],
      ['GET', '/mcp'],
      ['DELETE', '/mcp'],
      ['GET', '/sse'],
      ['POST', '/messages?sessionId=x'],
    ])('answers %s %s without an API key with 401', async (method, path) => {
      const res = await fetch(new URL(path, env.baseUrl), {
        method,
        headers: { 'Content-Type': 'application/json' },
        body: method === 'POST' ? JSON.stringify(INITIALIZE) : undefined,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('answers a wrong API key with 401', async () => {
      const res = await post('/mcp', INITIALIZE, { Authorization: 'Bearer not-a-key' });
      expect(res.status).toBe(401);
    });

    it('answers a foreign Origin with 403 even with a valid key', async () => {
      for (const path of ['/mcp', '/messages?sessionId=x']) {
        const res = await post(path, INITIALIZE, {
          Authorization: `Bearer ${API_KEY}`,
          Origin: 'https://evil.example',
        });
        expect(res.status).toBe(403);
      }
      const sse = await fetch(new URL('/sse', env.baseUrl), {
        headers: { Authorization: `Bearer ${API_KEY}`, Origin: 'https://evil.example' },
      });
      expect(sse.status).toBe(403);
    });

    it('serves a request with a valid key and no Origin, or a loopback Origin', async () => {
      const plain = await post('/mcp', INITIALIZE, { Authorization: `Bearer ${API_KEY}` });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('mcp-session-id')).toBeTruthy();
      const local = await post('/mcp', INITIALIZE, {
        Authorization: `Bearer ${API_KEY}`,
        Origin: 'http://localhost:6274',
      });
      expect(local.status).toBe(200);
    });
  });

  describe('sessions', () => {
    it('ends a 2025 session on DELETE; the id then gets 404', async () => {
      const transport = new StreamableHTTPClientTransport(new URL('/mcp', env.baseUrl), {
        requestInit: { headers: { Authorization: `Bearer ${API_KEY}` } },
      });
      const client = new V2Client({ name: 'deleter', version: '1' });
      await client.connect(transport);
      const sessionId = transport.sessionId!;
      expect(sessionId).toBeTruthy();
      await client.listTools();

      await transport.terminateSession();
      const after = await post(
        '/mcp',
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
        {
          Authorization: `Bearer ${API_KEY}`,
          'Mcp-Session-Id': sessionId,
          'Mcp-Protocol-Version': client.getNegotiatedProtocolVersion()!,
        },
      );
      expect(after.status).toBe(404);
      await client.close();
    });

    it('answers an unknown session id with 404 and a missing one with 400', async () => {
      const unknown = await post(
        '/mcp',
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
        { Authorization: `Bearer ${API_KEY}`, 'Mcp-Session-Id': 'f3c3d4a8-0000-4000-8000-000000000000' },
      );
      expect(unknown.status).toBe(404);
      const missing = await post(
        '/mcp',
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
        { Authorization: `Bearer ${API_KEY}` },
      );
      expect(missing.status).toBe(400);
      const sse = await post(
        '/messages?sessionId=nope',
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
        { Authorization: `Bearer ${API_KEY}` },
      );
      expect(sse.status).toBe(404);
    });

    it("does not let another API key use a client's session", async () => {
      const init = await post('/mcp', INITIALIZE, { Authorization: `Bearer ${API_KEY}` });
      const sessionId = init.headers.get('mcp-session-id')!;
      await init.text();
      const stolen = await post(
        '/mcp',
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
        {
          Authorization: `Bearer ${OTHER_API_KEY}`,
          'Mcp-Session-Id': sessionId,
          'Mcp-Protocol-Version': RAW_PROTOCOL_VERSION,
        },
      );
      expect(stolen.status).toBe(404);
    });

    it('serves the stateless 2026-07-28 revision without creating a session', async () => {
      const gateway = env.app.get(McpGateway);
      const before = gateway.sessionCounts().streamable;
      const client = await connectClient('v2-modern', env.baseUrl);
      clients.push(client);
      await client.callTool('list_pools');
      expect(gateway.sessionCounts().streamable).toBe(before);
    });

    it('keeps a legacy SSE session while its stream is open and forgets it when the client leaves', async () => {
      const gateway = env.app.get(McpGateway);
      const before = gateway.sessionCounts().sse;
      const client = await connectClient('v1-sse', env.baseUrl);
      expect(gateway.sessionCounts().sse).toBe(before + 1);
      await client.close();
      for (let i = 0; i < 40 && gateway.sessionCounts().sse !== before; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(gateway.sessionCounts().sse).toBe(before);
    });
  });
});
