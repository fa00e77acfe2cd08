import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ERROR_META_KEY } from '../../src/api/mcp/tools/tool-result';
import {
  AnyClient,
  API_KEY,
  CLIENT_KINDS,
  ClientKind,
  connectClient,
  eventually,
  McpTestEnv,
  OTHER_API_KEY,
  startMcpTestEnv,
  textOf,
  ToolCallOutcome,
} from './support';
import { initializeRequest, RAW_PROTOCOL_VERSION } from '../support/mcp-raw';

jest.setTimeout(120_000);

const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];
const MINIMAL_FIELDS = ['host', 'plugin_id', 'severity', 'cve', 'cvss_score', 'exploit_available'];

type Structured = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function ok(result: ToolCallOutcome): Structured {
  if (result.isError) throw new Error(`tool error: ${textOf(result)}`);
  expect(result.structuredContent).toBeDefined();
  return result.structuredContent as Structured;
}

function failed(result: ToolCallOutcome): string {
  expect(result.isError).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  return textOf(result);
}

describe('MCP tools against the simulator', () => {
  let env: McpTestEnv;
  const clients: AnyClient[] = [];
  const connect = async (kind: ClientKind, key = API_KEY) => {
    const c = await connectClient(kind, env.baseUrl, key);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // Scanner 2 (pool "lab") takes ten minutes per scan, so its tasks stay unfinished while we look at them.
    env = await startMcpTestEnv({
      simulator: { scanners: 2, perScanner: [undefined, { scanDurationMs: 600_000 }] },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await env?.close();
  });

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: AnyClient;

    beforeAll(async () => {
      client = await connect(kind);
    });

    it('runs a scan to completion and pages through filtered results', async () => {
      const submitted = ok(
        await client.callTool('run_untrusted_scan', {
          targets: '10.20.0.0/30',
          name: `full flow ${kind}`,
          idempotency_key: `flow-${randomUUID()}`,
        }),
      );
      expect(submitted.task_id).toMatch(/^ne_scan_\d{8}_\d{6}_[0-9a-f]{8}$/);
      expect(submitted).toMatchObject({ status: 'queued', scanner_pool: 'nessus', idempotent_replay: false });
      expect(submitted.message).toContain('get_scan_status');

      const done = await eventually(async () => {
        const task = ok(await client.callTool('get_scan_status', { task_id: submitted.task_id }));
        return TERMINAL.includes(task.status) ? task : undefined;
      });
      expect(done.status).toBe('completed');
      expect(done.scanner_instance).toBe('scanner1');
      const summary = done.results_summary;
      expect(summary.total_vulnerabilities).toBeGreaterThan(0);
      const serious = summary.severity_breakdown.critical + summary.severity_breakdown.high;
      expect(serious).toBeGreaterThan(0);

      const filtered = await client.callTool('get_scan_results', {
        task_id: submitted.task_id,
        schema_profile: 'minimal',
        filters: { severity: '>=3' },
        page: 0,
      });
      const page = ok(filtered);
      expect(page.schema.profile).toBe('minimal');
      expect(page.schema.fields).toEqual(MINIMAL_FIELDS);
      expect(page.pagination.total_items).toBe(serious);
      expect(page.vulnerabilities).toHaveLength(serious);
      for (const v of page.vulnerabilities) {
        expect(Object.keys(v)).toEqual(MINIMAL_FIELDS);
        expect(v.severity).toBeGreaterThanOrEqual(3);
      }
      expect(page.filters_applied).toEqual({ severity: '>=3' });

      // The text is the same page as JSON-NL.
      const lines = textOf(filtered)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines[0]).toMatchObject({ type: 'schema', profile: 'minimal' });
      expect(lines[1]).toMatchObject({
        type: 'scan_metadata',
        task_id: submitted.task_id,
        status: 'completed',
      });
      expect(lines.at(-1)).toMatchObject({
        type: 'pagination',
        total_items: serious,
        filters_applied: { severity: '>=3' },
      });
      const vulnLines = lines.filter((l) => l.type === 'vulnerability');
      expect(vulnLines.map(({ type: _type, ...rest }) => rest)).toEqual(page.vulnerabilities);

      const firstPage = ok(
        await client.callTool('get_scan_results', { task_id: submitted.task_id, page: 1, page_size: 10 }),
      );
      expect(firstPage.pagination).toMatchObject({
        page: 1,
        page_size: 10,
        total_items: summary.total_vulnerabilities,
        has_previous: false,
      });
      expect(firstPage.vulnerabilities.length).toBe(Math.min(10, summary.total_vulnerabilities));

      const mixed = failed(
        await client.callTool('get_scan_results', {
          task_id: submitted.task_id,
          schema_profile: 'full',
          custom_fields: ['host'],
        }),
      );
      expect(mixed).toMatch(/custom_fields/);

      const listed = ok(await client.callTool('list_tasks', { target_filter: '10.20.0.1', limit: 50 }));
      expect(listed.tasks.map((t: Structured) => t.task_id)).toContain(submitted.task_id);
      expect(listed.total).toBeGreaterThanOrEqual(1);
    });

    it('answers every bad call with a tool error an agent can act on, and the session keeps working', async () => {
      const unknown = failed(
        await client.callTool('get_scan_status', { task_id: 'ne_scan_20200101_000000_deadbeef' }),
      );
      expect(unknown).toMatch(/ne_scan_20200101_000000_deadbeef/);
      expect(unknown).toMatch(/not found|unknown|no task/i);

      const malformed = failed(await client.callTool('get_scan_status', { task_id: '../../etc/passwd' }));
      expect(malformed).toMatch(/task_id|task id/i);

      const audit = jest.spyOn(Logger.prototype, 'warn');
      let loopback: string;
      let warnings: string[];
      try {
        loopback = failed(
          await client.callTool('run_untrusted_scan', { targets: '10.30.0.1, 0x7f000001', name: 'nope' }),
        );
        warnings = audit.mock.calls.map(([line]) => String(line));
      } finally {
        audit.mockRestore();
      }
      expect(loopback).toContain('0x7f000001');
      // The refusal is on record with the client and the rule, though the tool call answered HTTP 200.
      expect(warnings).toContainEqual(
        expect.stringMatching(/^refused target "0x7f000001" of client tester: loopback/),
      );

      const target = failed(await client.callTool('list_tasks', { target_filter: '10.0.0.0/33' }));
      expect(target).toMatch(/target_filter/);
      expect(target).toMatch(/address, CIDR, range .* host name/);

      const pool = failed(await client.callTool('list_scanners', { scanner_pool: 'nowhere' }));
      expect(pool).toContain('nowhere');
      expect(pool).toContain('nessus');
      expect(pool).toContain('lab');
      // A name no pool can have is refused as such, the field named, as REST does.
      const spaced = failed(
        await client.callTool('run_untrusted_scan', {
          targets: '10.30.0.6',
          name: 'n',
          scanner_pool: 'no such pool',
        }),
      );
      expect(spaced).toMatch(/scanner_pool.*must be 1-64 of \[A-Za-z0-9_-\]/s);

      const key = `conflict-${randomUUID()}`;
      const first = ok(
        await client.callTool('run_untrusted_scan', {
          targets: '10.30.0.7',
          name: 'conflict',
          idempotency_key: key,
          scanner_pool: 'lab',
        }),
      );
      const replay = ok(
        await client.callTool('run_untrusted_scan', {
          targets: '10.30.0.7',
          name: 'conflict',
          idempotency_key: key,
          scanner_pool: 'lab',
        }),
      );
      expect(replay).toMatchObject({ task_id: first.task_id, idempotent_replay: true });
      const conflict = await client.callTool('run_untrusted_scan', {
        targets: '10.30.0.8',
        name: 'conflict',
        idempotency_key: key,
        scanner_pool: 'lab',
      });
      expect(failed(conflict)).toMatch(/idempotency/i);
      expect(conflict._meta?.[ERROR_META_KEY]).toMatchObject({ status: 409 });

      const early = failed(await client.callTool('get_scan_results', { task_id: first.task_id }));
      expect(early).toMatch(/not available/);
      expect(early).toMatch(/queued|running/);

      expect(failed(await client.callTool('get_scan_results', { task_id: first.task_id, page: -1 }))).toMatch(
        /page/,
      );
      expect(failed(await client.callTool('list_pools', { surprise: true }))).toMatch(
        /surprise|unrecognized/i,
      );

      const cancelled = ok(await client.callTool('cancel_scan', { task_id: first.task_id }));
      expect(cancelled).toMatchObject({ task_id: first.task_id, status: 'cancelled' });
      expect(failed(await client.callTool('cancel_scan', { task_id: first.task_id }))).toMatch(/cancelled/);

      // Still the same session, still serving.
      const pools = ok(await client.callTool('list_pools'));
      expect(pools.default_pool).toBe('nessus');
    });

    it('reports progress for wait: true with a progress token and returns the final status', async () => {
      const progress: Array<{ progress: number; message?: string }> = [];
      const result = ok(
        await client.callTool(
          'run_untrusted_scan',
          { targets: '10.40.0.9', name: `wait ${kind}`, wait: true },
          (p) => progress.push(p),
        ),
      );
      expect(result.status).toBe('completed');
      expect(result.message).toMatch(/get_scan_results/);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < progress.length; i++)
        expect(progress[i].progress).toBeGreaterThan(progress[i - 1].progress);
      // No check for a final 100: the v1 client drops a progress notification that arrives in the same read as
      // the response (it deletes the handler synchronously but dispatches notifications a microtask later).
      expect(progress.some((p) => /phase/.test(p.message ?? ''))).toBe(true);
    });
  });

  it('returns at once for wait: true without a progress token', async () => {
    const client = await connect('v2-streamable');
    const result = ok(
      await client.callTool('run_untrusted_scan', {
        targets: '10.50.0.1',
        name: 'no token',
        wait: true,
        scanner_pool: 'lab',
      }),
    );
    expect(result.status).toBe('queued');
    ok(await client.callTool('cancel_scan', { task_id: result.task_id }));
  });

  it('answers the infrastructure tools with the configured pools and scanners', async () => {
    const client = await connect('v1-streamable');
    const scanners = ok(await client.callTool('list_scanners'));
    expect(scanners.pools).toEqual(['nessus', 'lab']);
    expect(scanners.scanners.map((s: Structured) => s.instance_id).sort()).toEqual(['lab1', 'scanner1']);
    expect(scanners.total).toBe(2);
    expect(JSON.stringify(scanners)).not.toMatch(/password|nessus:nessus/);

    const pools = ok(await client.callTool('list_pools'));
    expect(pools.pools.map((p: Structured) => p.name)).toEqual(['nessus', 'lab']);

    const lab = ok(await client.callTool('get_pool_status', { scanner_pool: 'lab' }));
    expect(lab).toMatchObject({ pool: 'lab', total_scanners: 1, total_capacity: 1 });

    const queue = ok(await client.callTool('get_queue_status', {}));
    expect(queue.pool).toBe('nessus');
    expect(Number.isNaN(Date.parse(queue.timestamp))).toBe(false);
    const unknown = await client.callTool('get_queue_status', { scanner_pool: 'nowhere' });
    expect(failed(unknown)).toContain('nowhere');
    expect(unknown._meta?.[ERROR_META_KEY]).toMatchObject({ status: 404 });
  });

  it("keeps one client's tasks invisible to another and takes credentials without echoing them", async () => {
    const mine = await connect('v2-modern');
    const theirs = await connect('v1-sse', OTHER_API_KEY);
    const submitted = ok(
      await mine.callTool('run_authenticated_scan', {
        targets: '10.60.0.3',
        name: 'ssh scan',
        scan_type: 'authenticated',
        ssh_username: 'auditor',
        ssh_password: 'S3cret-pa55',
        scanner_pool: 'lab',
      }),
    );
    const status = await mine.callTool('get_scan_status', { task_id: submitted.task_id });
    expect(ok(status).scan_type).toBe('authenticated');
    expect(JSON.stringify(status)).not.toContain('S3cret-pa55');

    const hidden = failed(await theirs.callTool('get_scan_status', { task_id: submitted.task_id }));
    expect(hidden).toMatch(/not found|unknown|no task/i);
    expect(failed(await theirs.callTool('cancel_scan', { task_id: submitted.task_id }))).toMatch(
      /not found|unknown|no task/i,
    );
    ok(await mine.callTool('cancel_scan', { task_id: submitted.task_id }));
  });

  it('stores the X-Trace-Id of the MCP request on the task', async () => {
    const traceId = `mcp-trace-${randomUUID()}`;
    const res = await rawToolCall(
      env.baseUrl,
      'run_untrusted_scan',
      { targets: '10.80.0.1', name: 'traced', scanner_pool: 'lab' },
      { 'X-Trace-Id': traceId },
    );
    expect(res.structuredContent.trace_id).toBe(traceId);
    const client = await connect('v1-streamable');
    expect(
      ok(await client.callTool('get_scan_status', { task_id: res.structuredContent.task_id })).trace_id,
    ).toBe(traceId);
    ok(await client.callTool('cancel_scan', { task_id: res.structuredContent.task_id }));
  });

  it('takes the idempotency key from the Idempotency-Key header of the MCP request', async () => {
    const key = `"hdr-${randomUUID()}"`;
    const res1 = await rawToolCall(
      env.baseUrl,
      'run_untrusted_scan',
      { targets: '10.70.0.1', name: 'hdr', scanner_pool: 'lab' },
      { 'Idempotency-Key': key },
    );
    const res2 = await rawToolCall(
      env.baseUrl,
      'run_untrusted_scan',
      { targets: '10.70.0.1', name: 'hdr', scanner_pool: 'lab' },
      { 'Idempotency-Key': key },
    );
    expect(res2.structuredContent).toMatchObject({
      task_id: res1.structuredContent.task_id,
      idempotent_replay: true,
    });
    const client = await connect('v2-streamable');
    ok(await client.callTool('cancel_scan', { task_id: res1.structuredContent.task_id }));
  });
});

/** One tools/call in a 2025-era session driven with plain fetch, so the test controls the call's HTTP headers. */
async function rawToolCall(
  baseUrl: string,
  name: string,
  args: Record<string, unknown>,
  callHeaders: Record<string, string>,
): Promise<{ structuredContent: Structured }> {
  const url = new URL('/mcp', baseUrl);
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    Authorization: `Bearer ${API_KEY}`,
  };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify(initializeRequest('raw')),
  });
  const sessionId = init.headers.get('mcp-session-id')!;
  await init.text();
  const session = { ...headers, 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': RAW_PROTOCOL_VERSION };
  await (
    await fetch(url, {
      method: 'POST',
      headers: session,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    })
  ).text();
  const call = await fetch(url, {
    method: 'POST',
    headers: { ...session, ...callHeaders },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }),
  });
  const text = await call.text();
  const data = text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)))
    .find((m) => m.id === 2);
  await fetch(url, { method: 'DELETE', headers: session }).then((r) => r.text());
  if (!data?.result || data.result.isError) throw new Error(`tool call failed: ${text}`);
  return data.result;
}
