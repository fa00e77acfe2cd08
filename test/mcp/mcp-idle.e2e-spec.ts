import { McpGateway } from '../../src/api/mcp/mcp-gateway.service';
import { API_KEY, eventually, McpTestEnv, startMcpTestEnv } from './support';
import { initializeRequest, RAW_PROTOCOL_VERSION } from '../support/mcp-raw';

jest.setTimeout(60_000);

describe('MCP idle sessions', () => {
  let env: McpTestEnv;

  beforeAll(async () => {
    env = await startMcpTestEnv({ env: { MCP_SESSION_IDLE_SECONDS: '10' } });
  });

  afterAll(async () => {
    await env?.close();
  });

  it('closes a 2025 session nobody used for MCP_SESSION_IDLE_SECONDS; its id then gets 404', async () => {
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${API_KEY}`,
    };
    const init = await fetch(new URL('/mcp', env.baseUrl), {
      method: 'POST',
      headers,
      body: JSON.stringify(initializeRequest('idle')),
    });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const gateway = env.app.get(McpGateway);
    expect(gateway.sessionCounts().streamable).toBe(1);

    await eventually(async () => (gateway.sessionCounts().streamable === 0 ? true : undefined), 30_000, 500);
    const late = await fetch(new URL('/mcp', env.baseUrl), {
      method: 'POST',
      headers: { ...headers, 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': RAW_PROTOCOL_VERSION },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
    });
    expect(late.status).toBe(404);
  });
});
