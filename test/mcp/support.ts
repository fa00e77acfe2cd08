import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2StreamableTransport,
} from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SseTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport as V1StreamableTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../simulator/simulator';
import { AppConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

export const API_KEY = 'k1';
export const OTHER_API_KEY = 'k2';

/** The running application with a simulated Nessus behind it. */
export interface McpTestEnv {
  app: INestApplication;
  config: AppConfig;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  sim: SimulatorHandle;
  close(): Promise<void>;
}

/**
 * scanners.yaml with two pools: `nessus` (the default, on simulated scanner 1, two slots) and `lab` (on the
 * last simulated scanner, one slot).
 */
function writeScannersYaml(dir: string, sim: SimulatorHandle): string {
  const entry = (id: string, url: string, max: number) => [
    `  - instance_id: ${id}`,
    `    name: "Simulated ${id}"`,
    `    url: ${url}`,
    '    username: nessus',
    '    password: nessus',
    `    max_concurrent_scans: ${max}`,
  ];
  const lines = [
    'nessus:',
    ...entry('scanner1', sim.scanners[0].url, 2),
    'lab:',
    ...entry('lab1', sim.scanners[sim.scanners.length - 1].url, 1),
  ];
  const path = join(dir, 'scanners.yaml');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/**
 * Starts the Nessus simulator in this process and the whole application (mode all: API + workers) on an
 * ephemeral port, with a private Redis prefix and data directory. close() stops both and deletes the data.
 */
export async function startMcpTestEnv(
  opts: { env?: Record<string, string>; simulator?: SimulatorOptions } = {},
): Promise<McpTestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'nmg-mcp-'));
  const sim = await startSimulator({
    ...opts.simulator,
    scenario: { scanDurationMs: 1500, exportDelayMs: 100, ...opts.simulator?.scenario },
  });
  const prefix = uniquePrefix('mcp');
  let app: INestApplication | undefined;
  try {
    const config = AppConfig.fromEnv({
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATA_DIR: join(dir, 'tasks'),
      SCANNER_CONFIG: writeScannersYaml(dir, sim),
      API_KEYS: `tester:${API_KEY},other:${OTHER_API_KEY}`,
      POLL_INTERVAL_SECONDS: '1',
      APP_MODE: 'all',
      LOG_LEVEL: 'warn',
      ...opts.env,
    });
    app = await createApp(config);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    const started = app;
    return {
      app: started,
      config,
      baseUrl: `http://127.0.0.1:${port}`,
      sim,
      async close() {
        await started.close();
        await sim.stop();
        await cleanup(config.redis.url, prefix, dir);
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await sim.stop();
    await cleanup(testRedisUrl(), prefix, dir);
    throw err;
  }
}

async function cleanup(redisUrl: string, prefix: string, dir: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    await deletePrefix(redis, prefix);
  } finally {
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const auth = (key: string) => ({ headers: { Authorization: `Bearer ${key}` } });

/** Which official client and transport a test drives the gateway with. */
export type ClientKind = 'v2-streamable' | 'v2-modern' | 'v1-streamable' | 'v1-sse';
export const CLIENT_KINDS: ClientKind[] = ['v2-streamable', 'v2-modern', 'v1-streamable', 'v1-sse'];

/** The calls the tests make, common to the v1 and v2 clients. */
export interface AnyClient {
  kind: ClientKind;
  listTools(): Promise<{ tools: ToolInfo[] }>;
  callTool(
    name: string,
    args?: Record<string, unknown>,
    onprogress?: (p: { progress: number; total?: number; message?: string }) => void,
  ): Promise<ToolCallOutcome>;
  close(): Promise<void>;
}

export interface ToolInfo {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

export interface ToolCallOutcome {
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
}

const INFO = { name: 'mcp-e2e', version: '1.0.0' };

/**
 * Connects one of the official clients: v2 over Streamable HTTP (2025 sessionful handshake, or pinned to
 * the stateless 2026-07-28 revision), or v1 over Streamable HTTP or the legacy SSE transport. Tools are
 * listed once, so every later result is checked against its output schema by the client itself.
 */
export async function connectClient(kind: ClientKind, baseUrl: string, key = API_KEY): Promise<AnyClient> {
  const url = new URL(kind === 'v1-sse' ? '/sse' : '/mcp', baseUrl);
  if (kind === 'v2-streamable' || kind === 'v2-modern') {
    const client = new V2Client(
      INFO,
      kind === 'v2-modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
    );
    await client.connect(new V2StreamableTransport(url, { requestInit: auth(key) }));
    if (kind === 'v2-modern' && client.getProtocolEra() !== 'modern')
      throw new Error('v2 client did not negotiate 2026-07-28');
    const wrapped: AnyClient = {
      kind,
      listTools: () => client.listTools() as Promise<{ tools: ToolInfo[] }>,
      callTool: (name, args = {}, onprogress) =>
        client.callTool(
          { name, arguments: args },
          onprogress ? { onprogress, resetTimeoutOnProgress: true, timeout: 30_000 } : undefined,
        ) as Promise<ToolCallOutcome>,
      close: () => client.close(),
    };
    await wrapped.listTools();
    return wrapped;
  }
  const client = new V1Client(INFO);
  const transport =
    kind === 'v1-sse'
      ? new V1SseTransport(url, { requestInit: auth(key) })
      : new V1StreamableTransport(url, { requestInit: auth(key) });
  await client.connect(transport);
  const wrapped: AnyClient = {
    kind,
    listTools: () => client.listTools() as Promise<{ tools: ToolInfo[] }>,
    callTool: (name, args = {}, onprogress) =>
      client.callTool(
        { name, arguments: args },
        undefined,
        onprogress ? { onprogress, resetTimeoutOnProgress: true, timeout: 30_000 } : undefined,
      ) as Promise<ToolCallOutcome>,
    close: () => client.close(),
  };
  await wrapped.listTools();
  return wrapped;
}

/** The text of a tool result (first text block). */
export function textOf(result: ToolCallOutcome): string {
  return result.content.find((c) => c.type === 'text')?.text ?? '';
}
