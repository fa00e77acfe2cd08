import fc from 'fast-check';
import http from 'node:http';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { startTestApp, TestApp } from '../support/app-harness';
import { initializeRequest, RAW_PROTOCOL_VERSION } from '../support/mcp-raw';

/**
 * Issue 9: more than 10,000 generated malformed or hostile requests across every REST route and every MCP
 * tool (plus malformed JSON-RPC envelopes) against one in-process app. Property: no 5xx, every error is a
 * JSON body that says what was wrong, and afterwards the app is healthy and the MCP session still works.
 * The seed is fixed (FUZZ_SEED overrides it); fast-check prints seed and path of any failure.
 */

// one property runs about 1,300 requests: room for a machine busy with other work
jest.setTimeout(180_000);

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
/** FUZZ_SCALE multiplies every numRuns (for a quick look or a longer soak). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const KEY = 'fuzz-key-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${KEY}` };
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let sent = 0;

interface Reply {
  status: number;
  contentType: string;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** One request with the raw path as given (no URL normalisation: `..` and `%2e` reach the server as sent). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Reply> {
  const url = new URL(base);
  sent++;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, agent, headers, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path.slice(0, 200)}: no answer in 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const describeReply = (r: Reply) => `${r.status} ${r.contentType} ${r.text.slice(0, 500)}`;

/** REST property: below 500; an error is `{statusCode, error, message, trace_id}` with a message that names the problem. */
function checkRest(r: Reply): void {
  if (r.status >= 500) throw new Error(`5xx: ${describeReply(r)}`);
  if (r.status < 400) return;
  if (!r.contentType.startsWith('application/json')) throw new Error(`non-JSON error: ${describeReply(r)}`);
  const body = JSON.parse(r.text) as {
    statusCode?: unknown;
    error?: unknown;
    message?: unknown;
    trace_id?: unknown;
    fields?: Record<string, string>;
  };
  if (body.statusCode !== r.status || typeof body.error !== 'string' || typeof body.trace_id !== 'string')
    throw new Error(`error body not in the SPEC §6 shape: ${describeReply(r)}`);
  if (typeof body.message !== 'string' || body.message.trim().length < 3)
    throw new Error(`error without a message: ${describeReply(r)}`);
  // "targets" may be named as the offending "target"
  for (const field of Object.keys(body.fields ?? {})) {
    if (!body.message.includes(field) && !body.message.includes(field.replace(/s$/, '')))
      throw new Error(`field ${field} not named in the message: ${describeReply(r)}`);
  }
}

/** MCP HTTP-level property: below 500; an HTTP error is JSON with a message (JSON-RPC error or error body). */
function checkMcpHttp(r: Reply): void {
  if (r.status >= 500) throw new Error(`5xx: ${describeReply(r)}`);
  if (r.status < 400) return;
  if (!r.contentType.startsWith('application/json')) throw new Error(`non-JSON error: ${describeReply(r)}`);
  const body = JSON.parse(r.text) as { message?: unknown; error?: { message?: unknown } };
  const message = typeof body.message === 'string' ? body.message : body.error?.message;
  if (typeof message !== 'string' || message.trim().length < 3)
    throw new Error(`error without a message: ${describeReply(r)}`);
}

/** JSON-RPC messages of a Streamable HTTP answer (JSON or SSE). */
function rpcMessages(r: Reply): Array<Record<string, unknown>> {
  if (r.contentType.startsWith('text/event-stream')) {
    return r.text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
  }
  if (!r.text) return [];
  const parsed = JSON.parse(r.text) as unknown;
  return (Array.isArray(parsed) ? parsed : [parsed]) as Array<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------------------------------------
// Arbitraries

const HUGE = [
  'A'.repeat(70_000),
  '\u0000'.repeat(3000),
  '😀'.repeat(12_000),
  '../'.repeat(5000),
  '%'.repeat(9000),
];
const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uFEFF',
  '\u202E',
  '\uD800',
  '../../../../etc/passwd',
  '..\\..\\windows',
  '%2e%2e%2f',
  '${jndi:ldap://x}',
  '{{7*7}}',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'ｎｅｓｓｕｓ',
  'İ',
  'ne_scan_20261128_143022_a1b2c3d4',
];
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  '',
  ' ',
  'a.b',
  '$where',
  '\u0000',
  '😀',
  'name ',
  'NAME',
];
const HOSTILE_TARGETS = [
  '127.0.0.1',
  '127.1',
  '2130706433',
  '0x7f.0.0.1',
  '0177.0.0.1',
  '017700000001',
  '::1',
  '[::1]',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '0:0:0:0:0:ffff:169.254.169.254',
  '169.254.169.254',
  'fe80::1%eth0',
  '224.0.0.1',
  '255.255.255.255',
  '0.0.0.0',
  '0.0.0.0/0',
  '::/0',
  '10.0.0.0/8',
  '192.0.2.10-192.0.2.1',
  '192.0.2.1-10.0.0.1',
  '192.0.2.0/33',
  '192.0.2.0/-1',
  '1.2.3.4/24/8',
  '192.0.2.1-',
  '-192.0.2.1',
  '256.1.1.1',
  '1.2.3.4.5',
  '１２７.０.０.１',
  '١٢٧.٠.٠.١',
  'localhost',
  'LOCALHOST.',
  'localhost.localdomain',
  'ip6-localhost',
  '192.0.2.10,127.0.0.1',
  '192.0.2.10 ,, ;; 192.0.2.11',
  '\t\n',
  ',,,',
  'xn--',
  'a..b',
  '-a-.b',
];

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE) },
);
const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  fc.string({ maxLength: 12 }),
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: text },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(text, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
);
/** Targets that never send the policy to DNS for long: literals, hostile encodings, junk. */
const targets: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_TARGETS) },
  { weight: 2, arbitrary: fc.ipV4Extended() },
  { weight: 1, arbitrary: fc.ipV6() },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.ipV4(), fc.integer({ min: -2, max: 40 })).map(([a, n]) => `${a}/${n}`),
  },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...HOSTILE_TARGETS), { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => `${s}!`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `${s}\u00e9`) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE) },
  { weight: 1, arbitrary: fc.array(fc.constant('192.0.2.1'), { minLength: 4097, maxLength: 4100 }) },
  {
    weight: 2,
    arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.jsonValue({ maxDepth: 2 })),
  },
);

/** A valid body with 1-4 fields replaced, removed or added (hostile keys included). */
function mutated(base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const fields = Object.keys(base);
  const mutation = fc
    .oneof(fc.constantFrom(...fields), key)
    .chain((k) => fc.tuple(fc.constant(k), fc.option(k === 'targets' ? targets : value, { freq: 5 })));
  return fc.array(mutation, { minLength: 1, maxLength: 4 }).map((muts) => {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of muts) {
      if (v === null) delete out[k];
      // defineProperty: a literal "__proto__" key, as JSON.parse on the server will see it
      else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

const rawJson = fc.oneof(
  fc.constantFrom(
    '{',
    '{"targets":',
    '[1,]',
    '{"a":1,}',
    "{'name':'x'}",
    'null',
    '"string"',
    '42',
    '[]',
    'true',
    '1e999999',
    'NaN',
    '\uFEFF{}',
    '{"__proto__":{"polluted":true},"targets":"192.0.2.1","name":"p"}',
    '{"constructor":{"prototype":{"polluted":true}},"targets":"192.0.2.1","name":"p"}',
    '{"targets":"192.0.2.1","name":"a","name":"b"}',
    '{"targets":"192.0.2.1","name":"\\ud800"}',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
    `{"targets":"${'1'.repeat(2_000_000)}"}`,
  ),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=nope',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/merge-patch+json',
  '*/*',
  '',
];

/** Header values Node's client can send: printable ASCII and Latin-1, sometimes long. */
const headerValue = fc.oneof(
  fc.string({
    unit: fc
      .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }))
      .map((c) => String.fromCharCode(c)),
    maxLength: 60,
  }),
  fc.constantFrom('', ' ', 'k'.repeat(256), 'k'.repeat(4000), 'trace-ok-1', 'a\tb', '../../x', '%00', 'ÿþ'),
);

/** Idempotency-Key, X-Idempotency-Key, X-Trace-Id, Accept, Origin: each present or not, any value. */
const oddHeaders = fc
  .record(
    {
      'Idempotency-Key': headerValue,
      'X-Idempotency-Key': headerValue,
      'X-Trace-Id': headerValue,
      Accept: fc.oneof(
        fc.constantFrom('application/json', 'application/x-ndjson', 'text/html', '*/*', 'application/*;q=0'),
        headerValue,
      ),
      'Accept-Encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', 'zstd'),
    },
    { requiredKeys: [] },
  )
  .map((h) => h as Record<string, string>);

/** A path segment: encoded junk, traversal forms, over-long and well-formed unknown ids. */
const pathId = (known: () => string) =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '%2e%2e',
        '%2E%2E%2F%2E%2E%2Fpackage.json',
        '..%2F..%2F..%2Fetc%2Fpasswd',
        '..%252f..%252f',
        '%00',
        'ne_scan_20261128_143022_a1b2c3d4%00',
        'ne_scan_20261128_143022_a1b2c3d4%2F..',
        'ne_scan_20261128_143022_A1B2C3D4',
        'ne_scan_x',
        'a'.repeat(5000),
        '%ff%fe',
        '%',
        '%zz',
        '%E2%80%AE',
        '%C0%AE%C0%AE',
        'con',
        'NUL',
        '~',
        '%20',
      ),
    },
    { weight: 3, arbitrary: fc.string({ maxLength: 80 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent) },
    { weight: 2, arbitrary: fc.stringMatching(/^ne_scan_\d{8}_\d{6}_[0-9a-f]{8}$/) },
    { weight: 2, arbitrary: fc.constant(null).map(known) },
    { weight: 1, arbitrary: fc.constant(null).map(() => `${known()}${'%2F..'}`) },
  );

const encode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return escape(s); // lone surrogates: send the bytes some other way
  }
};

/** A query string of known and hostile parameter names, repeated names included, values any text. */
const query = (names: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...names) },
          {
            weight: 2,
            arbitrary: fc.constantFrom(
              '__proto__',
              '__proto__[polluted]',
              'constructor[prototype][polluted]',
              'constructor',
              'toString',
              'page[]',
              'limit[0]',
              'a[b][c]',
              '',
            ),
          },
          { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
        ),
        fc.oneof(
          { weight: 3, arbitrary: text.filter((s) => s.length < 1000) },
          { weight: 2, arbitrary: fc.integer().map(String) },
          { weight: 1, arbitrary: fc.constantFrom('-1', '0', '1.5', '1e3', '99999999999999999999', '', 'x') },
        ),
      ),
      { maxLength: 6 },
    )
    .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')}` : ''));

// ---------------------------------------------------------------------------------------------------------

describe('fuzz: 10,000+ malformed and hostile requests over REST and MCP, no 5xx', () => {
  let sim: SimulatorHandle;
  let t: TestApp;
  let completedId = '';
  let session: Record<string, string>;
  const started = Date.now();

  const rest = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    send(t.url, method, path, { ...AUTH, ...headers }, body);
  const runs = (numRuns: number) => ({ seed: SEED, numRuns: Math.ceil(numRuns * SCALE), endOnFailure: true });

  async function mcp(body: unknown, headers: Record<string, string> = session): Promise<Reply> {
    return send(
      t.url,
      'POST',
      '/mcp',
      { 'Content-Type': 'application/json', ...headers },
      typeof body === 'string' ? body : JSON.stringify(body),
    );
  }

  beforeAll(async () => {
    sim = await startSimulator({ scenario: { scanDurationMs: 500, exportDelayMs: 50 } });
    t = await startTestApp(
      {
        APP_MODE: 'all',
        API_KEYS: `fuzzer:${KEY}`,
        RATE_LIMIT_PER_MINUTE: '1000000',
        POLL_INTERVAL_SECONDS: '1',
      },
      { nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 4 }] },
    );
    const res = await rest(
      'POST',
      '/api/v1/scans',
      { 'Content-Type': 'application/json' },
      JSON.stringify({ targets: '192.0.2.10', name: 'fuzz baseline' }),
    );
    expect(res.status).toBe(202);
    completedId = (JSON.parse(res.text) as { task_id: string }).task_id;
    const until = Date.now() + 30_000;
    for (;;) {
      const s = JSON.parse((await rest('GET', `/api/v1/scans/${completedId}`)).text) as { status: string };
      if (s.status === 'completed') break;
      if (Date.now() > until) throw new Error(`baseline task still ${s.status}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const base = {
      ...AUTH,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    };
    const init = await send(t.url, 'POST', '/mcp', base, JSON.stringify(initializeRequest('fuzz')));
    expect(init.status).toBe(200);
    session = {
      ...base,
      'Mcp-Session-Id': String(init.headers['mcp-session-id']),
      'Mcp-Protocol-Version': RAW_PROTOCOL_VERSION,
    };
    await mcp({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }, 60_000);

  afterAll(async () => {
    agent.destroy();
    await t?.close();
    await sim?.stop();
  });

  describe('REST', () => {
    const UNTRUSTED = { targets: '192.0.2.20', name: 'fuzz' };
    const AUTHENTICATED = {
      ...UNTRUSTED,
      scan_type: 'authenticated',
      ssh_username: 'u',
      ssh_password: 'p',
      elevate_privileges_with: 'sudo',
      escalation_password: 'e',
    };

    it.each([
      ['/api/v1/scans', UNTRUSTED],
      ['/api/v1/scans/authenticated', AUTHENTICATED],
    ])('POST %s: mutated bodies, odd headers', async (path, base) => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { weight: 5, arbitrary: mutated(base) },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
          ),
          oddHeaders,
          async (body, headers) => {
            checkRest(
              await rest(
                'POST',
                path,
                { ...headers, 'Content-Type': 'application/json' },
                JSON.stringify(body),
              ),
            );
          },
        ),
        runs(1300),
      );
    });

    it('POST /api/v1/scans and /authenticated: malformed JSON and odd content types', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/api/v1/scans', '/api/v1/scans/authenticated'),
          rawJson,
          fc.constantFrom(...CONTENT_TYPES),
          async (path, body, contentType) => {
            const headers: Record<string, string> = contentType ? { 'Content-Type': contentType } : {};
            checkRest(await rest('POST', path, headers, body));
          },
        ),
        runs(800),
      );
    });

    it('GET /api/v1/scans: odd queries', async () => {
      await fc.assert(
        fc.asyncProperty(query(['limit', 'status', 'pool', 'target']), oddHeaders, async (q, headers) => {
          checkRest(await rest('GET', `/api/v1/scans${q}`, headers));
        }),
        runs(800),
      );
    });

    it('GET /api/v1/scans/:taskId, /report and POST /cancel: bad path ids', async () => {
      await fc.assert(
        fc.asyncProperty(
          pathId(() => completedId),
          fc.constantFrom(['GET', ''], ['GET', '/report'], ['POST', '/cancel'], ['GET', '/results']),
          oddHeaders,
          async (id, [method, suffix], headers) => {
            checkRest(await rest(method, `/api/v1/scans/${id}${suffix}`, headers));
          },
        ),
        runs(1500),
      );
    });

    it('GET /api/v1/scans/:taskId/results: odd queries on a completed task', async () => {
      const filters = fc
        .dictionary(
          key,
          fc.oneof(
            text.filter((v) => v.length < 1000),
            fc.integer(),
            fc.boolean(),
            fc.constant(null),
          ),
          {
            maxKeys: 4,
          },
        )
        .map((f) => JSON.stringify(f))
        .chain((f) => fc.constantFrom(f, f.slice(0, -1)));
      await fc.assert(
        fc.asyncProperty(
          query([
            'page',
            'page_size',
            'schema_profile',
            'custom_fields',
            'filters',
            'filter.severity',
            'filter.cve',
            'filter.host',
            'filter.exploit_available',
            'filter.__proto__',
            'filter.constructor',
            'filter.',
            'filter.nope',
          ]),
          fc.option(filters),
          fc.constantFrom('application/json', 'application/x-ndjson', '*/*'),
          async (q, f, accept) => {
            const withFilters = f === null ? q : `${q}${q ? '&' : '?'}filters=${encode(f)}`;
            checkRest(
              await rest('GET', `/api/v1/scans/${completedId}/results${withFilters}`, { Accept: accept }),
            );
          },
        ),
        runs(1200),
      );
    });

    it('GET /api/v1/scanners, /pools, /pools/:pool, /queue: odd pools and queries', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            query(['pool']).map((q) => `/api/v1/scanners${q}`),
            query(['pool']).map((q) => `/api/v1/queue${q}`),
            query(['pool']).map((q) => `/api/v1/pools${q}`),
            pathId(() => 'nessus').map((p) => `/api/v1/pools/${p}`),
          ),
          oddHeaders,
          async (path, headers) => {
            checkRest(await rest('GET', path, headers));
          },
        ),
        runs(1000),
      );
    });
  });

  describe('MCP', () => {
    const TOOL_BASES: Record<string, Record<string, unknown>> = {
      run_untrusted_scan: { targets: '192.0.2.30', name: 'fuzz' },
      run_authenticated_scan: {
        targets: '192.0.2.31',
        name: 'fuzz',
        scan_type: 'authenticated',
        ssh_username: 'u',
        ssh_private_key: 'k',
      },
      get_scan_status: { task_id: 'ne_scan_20261128_143022_a1b2c3d4' },
      get_scan_results: {
        task_id: 'ne_scan_20261128_143022_a1b2c3d4',
        page: 1,
        filters: { severity: '>=3' },
      },
      cancel_scan: { task_id: 'ne_scan_20261128_143022_a1b2c3d4' },
      list_tasks: { limit: 5, status_filter: 'completed', target_filter: '192.0.2.0/24' },
      list_scanners: { scanner_pool: 'nessus' },
      list_pools: {},
      get_pool_status: { scanner_pool: 'nessus' },
      get_queue_status: { scanner_pool: 'nessus' },
    };
    let nextId = 1000;

    it.each(Object.keys(TOOL_BASES))('tools/call %s with arbitrary arguments', async (tool) => {
      const base = TOOL_BASES[tool];
      const args: fc.Arbitrary<unknown> = fc.oneof(
        { weight: 5, arbitrary: mutated(Object.keys(base).length ? base : { scanner_pool: 'nessus' }) },
        { weight: 1, arbitrary: fc.dictionary(key, value, { maxKeys: 5 }) },
        { weight: 1, arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)) },
      );
      await fc.assert(
        fc.asyncProperty(args, async (a) => {
          // the task ids of these tools point at the completed task half the time
          const withTask =
            a &&
            typeof a === 'object' &&
            !Array.isArray(a) &&
            'task_id' in a &&
            nextId % 2 === 0 &&
            tool !== 'cancel_scan'
              ? { ...a, task_id: completedId }
              : a;
          const id = nextId++;
          const reply = await mcp({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name: tool, arguments: withTask },
          });
          checkMcpHttp(reply);
          if (reply.status !== 200) throw new Error(`tools/call answered ${describeReply(reply)}`);
          const msg = rpcMessages(reply).find((m) => m.id === id);
          if (!msg) throw new Error(`no answer to tools/call ${id}: ${describeReply(reply)}`);
          const result = msg.result as { isError?: boolean; content?: Array<{ text?: string }> } | undefined;
          const error = msg.error as { message?: string } | undefined;
          if (error) {
            if (!error.message?.trim()) throw new Error(`JSON-RPC error without message: ${reply.text}`);
          } else if (!result) {
            throw new Error(`neither result nor error: ${reply.text}`);
          } else if (result.isError && !(result.content?.[0]?.text ?? '').trim()) {
            throw new Error(`tool error without text: ${reply.text}`);
          }
        }),
        runs(230),
      );
    });

    it('malformed JSON-RPC envelopes, bad sessions, odd headers on /mcp and /messages', async () => {
      const METHODS = [
        'tools/call',
        'tools/list',
        'initialize',
        'ping',
        'resources/list',
        'resources/read',
        'prompts/list',
        'prompts/get',
        'completion/complete',
        'logging/setLevel',
        'notifications/cancelled',
        'notifications/initialized',
        'notifications/progress',
        'sampling/createMessage',
        '__proto__',
        'constructor',
        'rpc.discover',
      ];
      const envelope = fc.record(
        {
          jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('2.0'), value),
          id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), value),
          method: fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...METHODS) },
            { weight: 1, arbitrary: value },
          ),
          params: fc.oneof(
            value,
            fc.record({
              name: fc.oneof(fc.constantFrom(...Object.keys(TOOL_BASES)), value),
              arguments: value,
            }),
          ),
          result: value,
          error: value,
        },
        { requiredKeys: [] },
      );
      const body = fc.oneof(
        { weight: 4, arbitrary: envelope.map((e) => JSON.stringify(e)) },
        { weight: 1, arbitrary: fc.array(envelope, { maxLength: 4 }).map((e) => JSON.stringify(e)) },
        { weight: 1, arbitrary: rawJson },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      );
      const target = fc.oneof(
        { weight: 4, arbitrary: fc.constant('session') },
        { weight: 2, arbitrary: fc.constant('none') },
        { weight: 1, arbitrary: fc.constant('unknown') },
        { weight: 1, arbitrary: fc.constant('messages') },
      );
      const headers = fc.record(
        {
          Accept: fc.constantFrom(
            'application/json, text/event-stream',
            'application/json',
            'text/html',
            '*/*',
          ),
          'Content-Type': fc.constantFrom(
            'application/json',
            'application/json; charset=utf-8',
            'text/plain',
            '',
          ),
          'Mcp-Protocol-Version': fc.oneof(
            fc.constantFrom('2025-06-18', '2025-03-26', '2026-07-28', '1999-01-01'),
            headerValue,
          ),
          Origin: fc.constantFrom('http://127.0.0.1', 'https://evil.example', 'null'),
          'X-Trace-Id': headerValue,
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(target, body, headers, fc.uuid(), async (where, b, h, uuid) => {
          const sessionHeader =
            where === 'session'
              ? { 'Mcp-Session-Id': session['Mcp-Session-Id'] }
              : where === 'unknown'
                ? { 'Mcp-Session-Id': uuid }
                : {};
          const all = Object.fromEntries(
            Object.entries({ ...AUTH, ...h, ...sessionHeader }).filter(([, v]) => v !== ''),
          );
          const path = where === 'messages' ? `/messages?sessionId=${uuid}` : '/mcp';
          checkMcpHttp(await send(t.url, 'POST', path, all, b));
        }),
        runs(900),
      );
    });

    it('DELETE and GET /mcp with unknown sessions', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('DELETE', 'GET'),
          fc.oneof(fc.uuid(), headerValue),
          async (method, sid) => {
            const headers: Record<string, string> = {
              ...AUTH,
              Accept: 'text/event-stream, application/json',
            };
            if (sid) headers['Mcp-Session-Id'] = sid;
            checkMcpHttp(await send(t.url, method, '/mcp', headers));
          },
        ),
        runs(200),
      );
    });
  });

  it('is still healthy afterwards: ready, accepting scans, and the fuzzed MCP session still answers', async () => {
    expect(sent).toBeGreaterThanOrEqual(10_000 * Math.min(SCALE, 1));
    expect((await send(t.url, 'GET', '/health/ready')).status).toBe(200);
    const res = await rest(
      'POST',
      '/api/v1/scans',
      { 'Content-Type': 'application/json' },
      JSON.stringify({ targets: '192.0.2.99', name: 'after the fuzz' }),
    );
    expect(res.status).toBe(202);
    const reply = await mcp({
      jsonrpc: '2.0',
      id: 'last',
      method: 'tools/call',
      params: { name: 'list_pools', arguments: {} },
    });
    expect(reply.status).toBe(200);
    const msg = rpcMessages(reply).find((m) => m.id === 'last') as {
      result?: { structuredContent?: unknown };
    };
    expect(msg.result?.structuredContent).toMatchObject({ default_pool: 'nessus' });
    process.stdout.write(
      `fuzz: ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})\n`,
    );
  });
});
