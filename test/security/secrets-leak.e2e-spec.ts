import Redis from 'ioredis';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { GatewayProcess, startGateway } from '../support/process-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';
import { initializeRequest, RAW_PROTOCOL_VERSION } from '../support/mcp-raw';

/**
 * SPEC §8 / issue 9: a full authenticated scan over REST and over MCP, with distinctive secrets, by the
 * built gateway (`node dist/main.js`, LOG_LEVEL=debug) against the Nessus simulator. Afterwards every log
 * line, every file under DATA_DIR, every Redis key and value under the prefix and every response the
 * test received are searched for each secret: none may contain one.
 */

// Distinctive values: nothing else in the product or the simulator could produce them by chance.
const SECRETS = {
  clientApiKey: 'cli3nt-KEY-7d41c0ffee9a-canary',
  wrongApiKey: 'wr0ng-KEY-52be7a11d0e3-canary',
  nessusPassword: 'NessusPW-0c4f8a2d6b1e-canary',
  nessusAccessKey: 'acc355k3y9f8e7d6c5b4a39281706f5e4d3c2b1a0918273645afbecd-canary',
  nessusSecretKey: 's3cr3tk3y0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6789-canary',
  sshPassword: 'SshPW-7f3a9c1e5d2b-canary',
  sudoPassword: 'SudoPW-2b8d4e6f1a9c-canary',
  suPassword: 'SuPW-9e1c3a5b7d2f-canary',
  // the distinctive line of the PEM body: what would show if the key were copied anywhere
  privateKeyLine: 'MIIEpQIBAAKCAQEAcanaryPrivKeyLine0123456789abcdefCANARYxyz',
  replayPassword: 'ReplayPW-4a6c8e0b2d1f-canary',
};
const PRIVATE_KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  SECRETS.privateKeyLine,
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  '-----END OPENSSH PRIVATE KEY-----',
  '',
].join('\n');

const AUTH = { Authorization: `Bearer ${SECRETS.clientApiKey}` };
const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];

/** The task fields this test reads (SPEC §3). */
interface TaskView {
  task_id: string;
  status: string;
  phase: string;
  error: string | null;
  nessus_scan_id: number | null;
  authentication_status: string;
}

/** Parsed JSON answers: the fields the test reads. */
type Answer = Record<string, unknown> & TaskView & { message: string; idempotent_replay: boolean };

interface Seen {
  what: string;
  status: number;
  headers: string;
  body: string;
}

/** Every secret found in `text`, by name. */
function secretsIn(text: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => name);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

/** Every key under the prefix with its whole content, whatever its type (Bull job hashes included). */
async function redisDump(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      else if (type === 'none') continue;
      else throw new Error(`unexpected Redis type ${type} at ${key}`);
      out.set(key, `${key}\n${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return out;
}

describe('secrets never leak (authenticated scans over REST and MCP, gateway at debug level)', () => {
  let dir: string;
  let sim: SimulatorHandle;
  let gw: GatewayProcess;
  let redis: Redis;
  const prefix = uniquePrefix('leak');
  const seen: Seen[] = [];
  const taskIds: string[] = [];

  /** One HTTP exchange with the gateway, recorded for the final search. */
  async function call(
    what: string,
    method: string,
    path: string,
    opts: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; headers: Headers; text: string; json: () => Answer }> {
    const res = await fetch(new URL(path, gw.url), {
      method,
      headers: {
        ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...opts.headers,
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    seen.push({ what, status: res.status, headers: JSON.stringify([...res.headers]), body: text });
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Answer };
  }

  /** A 2025-era MCP session driven with plain fetch, so every byte of every answer is recorded. */
  async function mcpSession() {
    const base = {
      ...AUTH,
      Accept: 'application/json, text/event-stream',
    };
    let nextId = 1;
    const init = await call('mcp initialize', 'POST', '/mcp', {
      headers: base,
      body: initializeRequest('leak', nextId++),
    });
    expect(init.status).toBe(200);
    const headers = {
      ...base,
      'Mcp-Session-Id': init.headers.get('mcp-session-id')!,
      'Mcp-Protocol-Version': RAW_PROTOCOL_VERSION,
    };
    await call('mcp initialized', 'POST', '/mcp', {
      headers,
      body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    });
    return {
      async tool(name: string, args: Record<string, unknown>) {
        const id = nextId++;
        const res = await call(`mcp ${name}`, 'POST', '/mcp', {
          headers,
          body: { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
        });
        expect(res.status).toBe(200);
        const msg = res.text
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => JSON.parse(l.slice(6)))
          .find((m) => m.id === id);
        if (!msg?.result) throw new Error(`no result for ${name}: ${res.text}`);
        return msg.result as {
          isError?: boolean;
          structuredContent?: Answer;
          content: Array<{ text?: string }>;
        };
      },
      async close() {
        await call('mcp delete', 'DELETE', '/mcp', { headers });
      },
    };
  }

  async function waitForTask(
    id: string,
    done: (t: TaskView) => boolean,
    timeoutMs = 60_000,
  ): Promise<TaskView> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await call('status poll', 'GET', `/api/v1/scans/${id}`, { headers: AUTH });
      expect(res.status).toBe(200);
      if (done(res.json())) return res.json();
      if (Date.now() > until) throw new Error(`task ${id} still ${res.text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nmg-leak-'));
    // scanner1 logs in with a password, scanner2 with API keys: both kinds of Nessus credential are in play.
    sim = await startSimulator({
      scanners: 2,
      scenario: { scanDurationMs: 2500, exportDelayMs: 100 },
      perScanner: [
        { password: SECRETS.nessusPassword },
        { accessKey: SECRETS.nessusAccessKey, secretKey: SECRETS.nessusSecretKey },
      ],
    });
    const scannerConfig = join(dir, 'scanners.yaml');
    writeFileSync(
      scannerConfig,
      [
        'nessus:',
        '  - instance_id: scanner1',
        `    url: ${sim.scanners[0].url}`,
        '    username: nessus',
        `    password: "${SECRETS.nessusPassword}"`,
        '    max_concurrent_scans: 1',
        'keys:',
        '  - instance_id: scanner2',
        `    url: ${sim.scanners[1].url}`,
        `    access_key: "${SECRETS.nessusAccessKey}"`,
        `    secret_key: "${SECRETS.nessusSecretKey}"`,
        '    max_concurrent_scans: 2',
        '',
      ].join('\n'),
    );
    redis = new Redis(testRedisUrl());
    gw = await startGateway(
      {
        APP_MODE: 'all',
        HOST: '127.0.0.1',
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
        DATA_DIR: join(dir, 'tasks'),
        SCANNER_CONFIG: scannerConfig,
        API_KEYS: `leaktester:${SECRETS.clientApiKey}`,
        POLL_INTERVAL_SECONDS: '1',
        LOG_LEVEL: 'debug',
      },
      join(dir, 'gateway.log'),
    );
    await gw.ready();
  });

  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs both scans to completion with the credentials reaching Nessus, and leaves no secret anywhere', async () => {
    // A long untrusted scan fills scanner1's only slot, so the authenticated task waits with its
    // credentials in the vault: the Redis search below must find them there (the search works).
    await sim.control(0).setScenario({ scanDurationMs: 5000 });
    const blocker = await call('submit blocker', 'POST', '/api/v1/scans', {
      headers: AUTH,
      body: { targets: '192.0.2.60', name: 'slot holder' },
    });
    expect(blocker.status).toBe(202);
    taskIds.push(blocker.json().task_id);
    await waitForTask(blocker.json().task_id, (t) => t.status === 'running');
    await sim.control(0).setScenario({ scanDurationMs: 2500 });

    // REST: password login, sudo with its own password, under an idempotency key.
    const restBody = {
      targets: '192.0.2.61',
      name: 'leak rest',
      scan_type: 'authenticated_privileged',
      ssh_username: 'scanops',
      ssh_password: SECRETS.sshPassword,
      elevate_privileges_with: 'sudo',
      escalation_account: 'root',
      escalation_password: SECRETS.sudoPassword,
    };
    const idem = { ...AUTH, 'Idempotency-Key': 'leak-rest-1', 'X-Trace-Id': 'leak-trace-1' };
    const rest = await call('submit rest', 'POST', '/api/v1/scans/authenticated', {
      headers: idem,
      body: restBody,
    });
    expect(rest.status).toBe(202);
    const restId: string = rest.json().task_id;
    taskIds.push(restId);

    const queued = await call('status queued', 'GET', `/api/v1/scans/${restId}`, { headers: AUTH });
    expect(queued.json()).toMatchObject({ status: 'queued', phase: 'waiting_for_scanner' });
    const vaulted = [...(await redisDump(redis, prefix)).values()].flatMap(secretsIn);
    expect(vaulted).toEqual(expect.arrayContaining(['sshPassword', 'sudoPassword']));

    // Replay, then a conflicting request under the same key, then bad requests carrying secrets.
    const replay = await call('replay', 'POST', '/api/v1/scans/authenticated', {
      headers: idem,
      body: restBody,
    });
    expect(replay.status).toBe(202);
    expect(replay.json()).toMatchObject({ task_id: restId, idempotent_replay: true });
    const conflict = await call('conflict', 'POST', '/api/v1/scans/authenticated', {
      headers: idem,
      body: { ...restBody, ssh_password: SECRETS.replayPassword },
    });
    expect(conflict.status).toBe(409);
    const invalid = await call('invalid', 'POST', '/api/v1/scans/authenticated', {
      headers: AUTH,
      body: {
        ...restBody,
        name: '',
        ssh_password: SECRETS.sshPassword.repeat(60),
        escalation_password: { value: SECRETS.sudoPassword },
        ssh_private_key: 12,
      },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json().message).toMatch(/ssh_password/);
    expect(invalid.json().message).toMatch(/escalation_password/);
    const refused = await call('refused target', 'POST', '/api/v1/scans/authenticated', {
      headers: AUTH,
      body: { ...restBody, targets: '169.254.169.254' },
    });
    expect(refused.status).toBe(403);
    const wrongKey = await call('wrong key', 'POST', '/api/v1/scans/authenticated', {
      headers: { Authorization: `Bearer ${SECRETS.wrongApiKey}` },
      body: restBody,
    });
    expect(wrongKey.status).toBe(401);

    // MCP: private key login, su with its password, on the API-key scanner.
    const mcp = await mcpSession();
    const mcpArgs = {
      targets: ['192.0.2.62', '192.0.2.63'],
      name: 'leak mcp',
      scanner_pool: 'keys',
      scan_type: 'authenticated_privileged',
      ssh_username: 'scanops',
      ssh_private_key: PRIVATE_KEY,
      elevate_privileges_with: 'su',
      escalation_password: SECRETS.suPassword,
    };
    const bad = await mcp.tool('run_authenticated_scan', { ...mcpArgs, elevate_privileges_with: 'runas' });
    expect(bad.isError).toBe(true);
    const started = await mcp.tool('run_authenticated_scan', mcpArgs);
    expect(started.isError).toBeFalsy();
    const mcpId: string = started.structuredContent!.task_id;
    taskIds.push(mcpId);

    // SPEC §8: once each Nessus scan exists (the task runs on Nessus), its credentials have left Redis.
    for (const id of [restId, mcpId]) {
      const running = await waitForTask(id, (t) => t.status !== 'queued');
      expect(running.nessus_scan_id).toEqual(expect.any(Number));
    }
    const afterCreate = await redisDump(redis, prefix);
    expect([...afterCreate.values()].flatMap(secretsIn)).toEqual([]);
    expect([...afterCreate.keys()].filter((k) => k.includes(':creds:'))).toEqual([]);

    const final: Record<string, TaskView> = {};
    for (const id of taskIds) final[id] = await waitForTask(id, (t) => TERMINAL.includes(t.status), 90_000);
    for (const id of taskIds)
      expect([id, final[id].status, final[id].error]).toEqual([id, 'completed', null]);
    expect(final[restId].authentication_status).toBe('success');
    expect(final[mcpId].authentication_status).toBe('success');

    // The Nessus session expires and the password Nessus expects changes: the login failure path, with the
    // configured password in its request body, runs and is logged; the task fails naming the login.
    sim.control(0).expireSessions();
    await sim.control(0).setScenario({ password: 'not-the-configured-one' });
    const doomed = await call('submit doomed', 'POST', '/api/v1/scans', {
      headers: AUTH,
      body: { targets: '192.0.2.64', name: 'login fails' },
    });
    expect(doomed.status).toBe(202);
    const failed = await waitForTask(doomed.json().task_id, (t) => TERMINAL.includes(t.status));
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/login/) });
    await sim.control(0).setScenario({ password: SECRETS.nessusPassword });

    // Everything a client can read back.
    for (const id of [restId, mcpId]) {
      expect(
        (await call('results', 'GET', `/api/v1/scans/${id}/results?page=0`, { headers: AUTH })).status,
      ).toBe(200);
      expect(
        (
          await call('results ndjson', 'GET', `/api/v1/scans/${id}/results`, {
            headers: { ...AUTH, Accept: 'application/x-ndjson' },
          })
        ).status,
      ).toBe(200);
      expect((await call('report', 'GET', `/api/v1/scans/${id}/report`, { headers: AUTH })).status).toBe(200);
      expect(
        (await call('cancel finished', 'POST', `/api/v1/scans/${id}/cancel`, { headers: AUTH })).status,
      ).toBe(409);
      expect((await mcp.tool('get_scan_status', { task_id: id })).isError).toBeFalsy();
      expect(
        (await mcp.tool('get_scan_results', { task_id: id, page: 0, schema_profile: 'full' })).isError,
      ).toBeFalsy();
    }
    for (const path of [
      '/api/v1/scans?limit=50',
      '/api/v1/scanners',
      '/api/v1/pools',
      '/api/v1/pools/keys',
      '/api/v1/queue?pool=nessus',
      '/metrics',
      '/health/ready',
    ]) {
      expect((await call(path, 'GET', path, { headers: AUTH })).status).toBe(200);
    }
    for (const tool of ['list_tasks', 'list_scanners', 'list_pools', 'get_pool_status', 'get_queue_status']) {
      expect((await mcp.tool(tool, {})).isError).toBeFalsy();
    }
    await mcp.close();

    // The log is the one we think: debug level, with this session's lines.
    const lines = readFileSync(gw.logPath, 'utf8').split('\n').filter(Boolean);
    expect(lines.some((l) => l.includes('"level":20'))).toBe(true);
    expect(lines.some((l) => l.includes(mcpId))).toBe(true);
    expect(seen.length).toBeGreaterThan(30);
    await expectNoSecretAnywhere();
  }, 180_000);

  it('a scanner whose API keys were regenerated: its task fails saying so, and neither key shows anywhere (RELIABILITY 29)', async () => {
    // The old keys stay in scanners.yaml (and in SECRETS, searched for); Nessus now wants others.
    await sim.control(1).setScenario({
      accessKey: 'regenerated-access-key-0123456789abcdef0123456789abcdef01234567',
      secretKey: 'regenerated-secret-key-0123456789abcdef0123456789abcdef01234567',
    });
    const res = await call('submit after key change', 'POST', '/api/v1/scans', {
      headers: AUTH,
      body: { targets: '192.0.2.63', name: 'stale keys', scanner_pool: 'keys' },
    });
    expect(res.status).toBe(202);
    const ended = await waitForTask(res.json().task_id, (t) => TERMINAL.includes(t.status));
    expect(ended).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^scanner2: .*authentication failed \(HTTP 401/),
    });
    expect(ended.error).toMatch(/check its credentials in scanners\.yaml/);
    expect((await call('pools after', 'GET', '/api/v1/pools/keys', { headers: AUTH })).status).toBe(200);
    await expectNoSecretAnywhere();
  }, 60_000);

  /** Searches every log line, file under DATA_DIR, Redis key and value and response seen so far. */
  async function expectNoSecretAnywhere(): Promise<void> {
    const lines = readFileSync(gw.logPath, 'utf8').split('\n').filter(Boolean);
    expect(
      lines.filter((l) => secretsIn(l).length).map((l) => `${secretsIn(l)}: ${l.slice(0, 300)}`),
    ).toEqual([]);

    // Task files: every file under DATA_DIR (task.json, scan.nessus, findings...).
    const files = filesUnder(join(dir, 'tasks'));
    expect(files.some((f) => f.endsWith('task.json'))).toBe(true);
    expect(files.filter((f) => secretsIn(readFileSync(f, 'latin1')).length)).toEqual([]);

    // Redis: every key and value under the prefix, of every type.
    const dump = await redisDump(redis, prefix);
    expect(dump.size).toBeGreaterThan(0);
    expect([...dump.values()].filter((v) => secretsIn(v).length).map((v) => v.slice(0, 300))).toEqual([]);

    // Every response the test saw, headers included.
    const leaked = seen.filter((s) => secretsIn(`${s.headers}\n${s.body}`).length);
    expect(leaked.map((s) => `${s.what} ${s.status}: ${secretsIn(`${s.headers}\n${s.body}`)}`)).toEqual([]);
  }
});
