/**
 * mcp: get_scan_status over Streamable HTTP with the official MCP TypeScript SDK client (v2, 2025
 * sessionful revision), 20 calls in flight on one session, for BENCH_SECONDS after a warm-up.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { setMaxListeners } from 'node:events';
import {
  Cleanup,
  benchWorkspace,
  figure,
  fmt,
  header,
  latencySummary,
  printCommands,
  procFigures,
  redisCommandsPerRequest,
  startGateway,
  startGatewayIn,
  writeScannersYaml,
} from './support';

const IN_FLIGHT = 20;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

/**
 * fetch with a signal of its own per request, linked to the caller's: the SDK transport hands every
 * request one shared signal, on which fetch leaves an abort listener per request (thousands in a run,
 * a MaxListenersExceededWarning and client CPU that is not the gateway's).
 */
const isolatedFetch: typeof fetch = async (input, init) => {
  const shared = init?.signal;
  if (!shared) return fetch(input, init);
  // One listener per call in flight, removed when its response arrives.
  setMaxListeners(4 * IN_FLIGHT, shared);
  const own = new AbortController();
  const abort = () => own.abort(shared.reason);
  if (shared.aborted) abort();
  shared.addEventListener('abort', abort, { once: true });
  try {
    return await fetch(input, { ...init, signal: own.signal });
  } finally {
    shared.removeEventListener('abort', abort);
  }
};

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'nmg-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { fetch: isolatedFetch }));
  // Listing the tools lets the client check every structuredContent against its output schema, as agents do.
  await client.listTools();
  return client;
}

async function submit(url: string, i: number): Promise<string> {
  const res = await fetch(`${url}/api/v1/scans`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ targets: `192.0.2.${(i % 250) + 1}`, name: `mcp ${i}` }),
  });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { task_id: string }).task_id;
}

/** Keeps IN_FLIGHT calls running for `seconds`; returns the latencies of the calls that finished. */
async function drive(
  client: Client,
  ids: string[],
  seconds: number,
): Promise<{ latencies: number[]; errors: number }> {
  const until = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (Date.now() < until) {
        const t0 = performance.now();
        const res = await client.callTool({
          name: 'get_scan_status',
          arguments: { task_id: ids[n++ % ids.length] },
        });
        latencies.push(performance.now() - t0);
        if (res.isError) errors++;
      }
    }),
  );
  return { latencies, errors };
}

export async function run(): Promise<void> {
  header('mcp: get_scan_status over Streamable HTTP (official SDK client)');
  const cleanup = new Cleanup();
  try {
    const { dir, prefix } = benchWorkspace('mcp', cleanup);
    const scannerConfig = writeScannersYaml(dir, [{ url: 'http://127.0.0.1:9', max: 2 }]);

    const gw = await startGatewayIn('api', { dir, prefix, scannerConfig }, cleanup);
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => submit(gw.url, i)));
    const client = await connect(gw.url);
    cleanup.add('client', () => client.close());

    await drive(client, ids, 2);
    const cpu0 = procFigures(gw.pid).cpuMs;
    const client0 = procFigures('self').cpuMs;
    const t0 = Date.now();
    const { latencies, errors } = await drive(client, ids, SECONDS);
    const elapsed = (Date.now() - t0) / 1000;
    const cpuMs = procFigures(gw.pid).cpuMs - cpu0;
    const cpuPct = cpuMs / (10 * elapsed);
    const clientPct = (procFigures('self').cpuMs - client0) / (10 * elapsed);
    const l = latencySummary(latencies);
    const rate = latencies.length / elapsed;

    figure('get_scan_status', `${fmt(rate)} calls/s`, '>= 2,000 calls/s', rate >= 2000);
    figure('latency p50 / p99', `${fmt(l.p50, 1)} / ${fmt(l.p99, 1)} ms`);
    figure('CPU gateway / SDK client', `${fmt(cpuPct)} / ${fmt(clientPct)} % of a core`);
    figure('gateway CPU per call', `${fmt(cpuMs / Math.max(1, latencies.length), 2)} ms`);
    figure('tool errors', `${errors} of ${fmt(latencies.length)}`);
    await client.close();
    await gw.stop();

    let url = '';
    let counted: Client | null = null;
    let id = '';
    const commands = await redisCommandsPerRequest(
      async (redisUrl) => {
        const g = await startGateway({
          dir,
          prefix,
          scannerConfig,
          label: 'counted',
          env: { APP_MODE: 'api', REDIS_URL: redisUrl },
        });
        url = g.url;
        id = await submit(url, 0);
        counted = await connect(url);
        return { stop: async () => (await counted?.close(), await g.stop()) };
      },
      async () => {
        await counted!.callTool({ name: 'get_scan_status', arguments: { task_id: id } });
      },
    );
    printCommands('redis commands per call', commands);
  } finally {
    await cleanup.run();
  }
}
