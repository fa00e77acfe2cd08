import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startSimulator, type ScanStats, type SimulatorHandle } from '../../simulator/simulator';
import { expectedCounts } from '../../simulator/report-generator';
import {
  NessusClient,
  NessusError,
  type NessusConnectionOptions,
} from '../../src/scanners/nessus/nessus.client';
import { waitFor } from '../support/wait-for';

/** Partial downloads of `dest` left in its directory. */
async function partialFiles(dest: string): Promise<string[]> {
  const names = await readdir(dirname(dest));
  return names.filter((n) => n.startsWith(`${basename(dest)}.`) && n.endsWith('.part'));
}

const FIXTURE = join(__dirname, '..', 'fixtures', 'pytenable-example.nessus');

async function caught(p: Promise<unknown>): Promise<NessusError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NessusError);
    return err as NessusError;
  }
  throw new Error('expected a NessusError, the call succeeded');
}

function countItems(xml: string) {
  const sev = [0, 0, 0, 0, 0];
  for (const m of xml.matchAll(/<ReportItem [^>]*severity="(\d)"/g)) sev[Number(m[1])]++;
  return { total: sev.reduce((a, b) => a + b, 0), sev };
}

describe('NessusClient against the simulator (HTTP)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  const clients: NessusClient[] = [];
  const client = (over: Partial<NessusConnectionOptions> = {}, scanner = 0) => {
    const c = new NessusClient({
      instanceId: sim.scanners[scanner].instanceName,
      url: sim.scanners[scanner].url,
      username: 'nessus',
      password: 'nessus',
      timeoutMs: 3000,
      ...over,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      scanners: 2,
      scenario: { scanDurationMs: 300, exportDelayMs: 100 },
    });
    dir = await mkdtemp(join(tmpdir(), 'nessus-client-'));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await sim.control(0).reset();
    await sim.control(1).reset();
  });

  it('runs the whole lifecycle: create, find, launch, poll, export, delete', async () => {
    const c = client();
    expect(await c.serverStatus()).toEqual({
      status: 'ready',
      version: '10.8.3',
      product: 'Nessus Professional',
    });

    const id = await c.createScan({
      name: 'orch-lifecycle',
      targets: ['192.0.2.10', '192.0.2.11', '192.0.2.12'],
    });
    const idle = await c.getScan(id);
    expect(idle).toMatchObject({
      id,
      name: 'orch-lifecycle',
      nessusStatus: 'empty',
      state: 'idle',
      progress: 0,
      launched: false,
    });
    expect((await c.listScans()).map((s) => s.name)).toEqual(['orch-lifecycle']);

    await c.launchScan(id);
    const launched = await c.getScan(id, 3);
    expect(['pending', 'running', 'completed']).toContain(launched.state);
    expect(launched.launched).toBe(true);

    const done = await waitFor(
      () => c.getScan(id, 3),
      (s) => s.state === 'completed',
    );
    expect(done).toMatchObject({ nessusStatus: 'completed', progress: 100 });

    const dest = join(dir, 'lifecycle.nessus');
    const { bytes } = await c.exportNessus(id, dest, { pollIntervalMs: 50 });
    expect((await stat(dest)).size).toBe(bytes);
    expect(await partialFiles(dest)).toEqual([]);
    const xml = await readFile(dest, 'utf8');
    const counts = countItems(xml);
    const expected = expectedCounts({
      hosts: 3,
      findingsPerHost: 24,
      seed: id,
      targets: ['192.0.2.10', '192.0.2.11', '192.0.2.12'],
    });
    expect(counts.total).toBe(expected.total);
    expect(counts.sev[4]).toBe(expected.severity.critical);
    expect(xml).toContain('<ReportHost name="192.0.2.11">');

    await c.deleteScan(id);
    expect((await caught(c.getScan(id))).kind).toBe('not_found');
    await c.deleteScan(id); // an already-deleted scan counts as deleted

    const stats = sim.control(0).stats();
    expect(stats).toMatchObject({ created: 1, launched: 1, deleted: 1, running: 0, max_running: 1 });
  });

  it('reports progress from the hosts while a scan runs', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 1500 });
    const c = client();
    const id = await c.createScan({ name: 'orch-progress', targets: ['192.0.2.0/29'] });
    await c.launchScan(id);
    const mid = await waitFor(
      () => c.getScan(id, 6),
      (s) => s.progress > 0,
    );
    expect(mid.state).toBe('running');
    expect(mid.progress).toBeLessThan(100);
    const later = await waitFor(
      () => c.getScan(id, 6),
      (s) => s.progress > mid.progress || s.state === 'completed',
    );
    expect(later.progress).toBeGreaterThan(mid.progress);
  });

  it('stops a running scan, which ends canceled; stopping it again is not an error', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 60_000 });
    const c = client();
    const id = await c.createScan({ name: 'orch-stop', targets: ['192.0.2.20'] });
    await c.launchScan(id);
    await waitFor(
      () => c.getScan(id),
      (s) => s.state === 'running',
    );
    await c.stopScan(id);
    const s = await waitFor(
      () => c.getScan(id),
      (x) => x.state === 'canceled',
    );
    expect(s).toMatchObject({ nessusStatus: 'canceled', progress: 100 });
    await c.stopScan(id);
    expect(sim.control(0).stats().stopped).toBe(1);
  });

  it('finds a scan by name so a crashed step adopts it instead of creating a second one', async () => {
    const c = client();
    expect(await c.findScanByName('orch-task-7')).toBeNull();
    const id = await c.createScan({ name: 'orch-task-7', targets: ['192.0.2.30'] });
    await c.createScan({ name: 'orch-task-8', targets: ['192.0.2.31'] });
    // a restarted step looks the scan up before creating one
    const again = client();
    const found = await again.findScanByName('orch-task-7');
    expect(found).toMatchObject({ id, name: 'orch-task-7', state: 'idle', launched: false });
    const stats = (await (await fetch(`${sim.scanners[0].url}/_sim/stats`)).json()) as ScanStats;
    expect(stats.created_by_name['orch-task-7']).toBe(1);
    expect(stats.scans_by_name).toEqual({ 'orch-task-7': 1, 'orch-task-8': 1 });
  });

  it('logs in again once when the session expired (401) and carries on', async () => {
    const c = client();
    const id = await c.createScan({ name: 'orch-relogin', targets: ['192.0.2.40'] });
    sim.control(0).expireSessions();
    expect((await c.getScan(id)).id).toBe(id);

    await sim.control(0).setScenario({ sessionTtlMs: 100 });
    await new Promise((r) => setTimeout(r, 250));
    await c.launchScan(id);
    expect(sim.control(0).stats().launched).toBe(1);
  });

  it('fails with auth when the new login is refused too, without leaking the password', async () => {
    const c = client({ password: 'hunter2-secret' });
    const err = await caught(c.listScans());
    expect(err).toMatchObject({ kind: 'auth', instanceId: 'scanner1', transient: false });
    expect(err.message).toMatch(/^scanner1: /);
    expect(err.message).not.toContain('hunter2-secret');

    const ok = client();
    await ok.listScans();
    await sim.control(0).setScenario({ password: 'rotated' });
    sim.control(0).expireSessions();
    const after = await caught(ok.listScans());
    expect(after.kind).toBe('auth');
    expect(after.httpStatus).toBe(401);
  });

  it('fetches the X-API-Token from /nessus6.js on a 412 and retries (Nessus Professional)', async () => {
    await sim
      .control(0)
      .setScenario({ requireApiToken: true, apiToken: 'C0FFEE00-1234-4ABC-8DEF-0123456789AB' });
    const c = client({ apiToken: 'auto' });
    const id = await c.createScan({ name: 'orch-pro', targets: ['192.0.2.50'] });
    await c.launchScan(id);
    await waitFor(
      () => c.getScan(id),
      (s) => s.state === 'completed',
    );
    await c.deleteScan(id);
    expect(sim.control(0).stats()).toMatchObject({ created: 1, launched: 1, deleted: 1 });

    const explicit = client({ apiToken: 'C0FFEE00-1234-4ABC-8DEF-0123456789AB' });
    await explicit.createScan({ name: 'orch-pro-2', targets: ['192.0.2.51'] });

    const off = client({ apiToken: 'off' });
    const err = await caught(off.createScan({ name: 'orch-pro-3', targets: ['192.0.2.52'] }));
    expect(err).toMatchObject({ kind: 'api_unavailable', httpStatus: 412, transient: false });
    expect(err.message).not.toContain('C0FFEE00');
  });

  it('authenticates with API keys: reads always work, scan writes only where the licence has the scan API', async () => {
    const { accessKey, secretKey } = sim.control(1).scenario();
    const c = client({ username: undefined, password: undefined, accessKey, secretKey }, 1);
    const id = await c.createScan({ name: 'orch-keys', targets: ['192.0.2.60'] });
    await c.launchScan(id);
    expect((await c.findScanByName('orch-keys'))?.id).toBe(id);

    await sim.control(1).setScenario({ requireApiToken: true });
    expect(await c.listScans()).toHaveLength(1);
    expect((await caught(c.createScan({ name: 'orch-keys-2', targets: ['192.0.2.61'] }))).kind).toBe(
      'api_unavailable',
    );

    const bad = client({ username: undefined, password: undefined, accessKey, secretKey: 'f'.repeat(64) }, 1);
    const err = await caught(bad.listScans());
    expect(err.kind).toBe('auth');
    expect(err.message).not.toContain('f'.repeat(64));
  });

  it('uploads an SSH private key and builds an authenticated scan whose report shows credentialed checks', async () => {
    const c = client();
    const id = await c.createScan({
      name: 'orch-auth',
      targets: ['192.0.2.70'],
      credentials: {
        username: 'scanuser',
        privateKey:
          '-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n',
        elevatePrivilegesWith: 'sudo',
        escalationPassword: 'sudo-pass',
      },
    });
    await c.launchScan(id);
    await waitFor(
      () => c.getScan(id),
      (s) => s.state === 'completed',
    );
    const dest = join(dir, 'auth.nessus');
    await c.exportNessus(id, dest, { pollIntervalMs: 50 });
    expect(await readFile(dest, 'utf8')).toMatch(/Credentialed checks : yes/);
  });

  it('refuses to launch a scan that is already running (conflict)', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 60_000 });
    const c = client();
    const id = await c.createScan({ name: 'orch-conflict', targets: ['192.0.2.80'] });
    await c.launchScan(id);
    const err = await caught(c.launchScan(id));
    expect(err).toMatchObject({ kind: 'conflict', transient: false });
    expect(err.message).toMatch(/^scanner1: launch scan \d+ failed: /);
    expect((await caught(c.deleteScan(id))).kind).toBe('conflict');

    await sim.control(0).setScenario({ launchConflictStatus: 409 });
    expect((await caught(c.launchScan(id))).kind).toBe('conflict');
    expect(sim.control(0).stats().launched).toBe(1);
  });

  it('reports a failed launch as a transient server error', async () => {
    await sim.control(0).setScenario({ failLaunch: true });
    const c = client();
    const id = await c.createScan({ name: 'orch-faillaunch', targets: ['192.0.2.90'] });
    const err = await caught(c.launchScan(id));
    expect(err).toMatchObject({ kind: 'server', httpStatus: 500, transient: true });
  });

  it('names a missing scan not_found', async () => {
    const c = client();
    expect((await caught(c.getScan(9999))).kind).toBe('not_found');
    expect((await caught(c.launchScan(9999))).kind).toBe('not_found');
    expect((await caught(c.exportNessus(9999, join(dir, 'none.nessus')))).kind).toBe('not_found');
  });

  it('classifies an outage: refused or reset connections are unreachable, 503 is a server error, all transient', async () => {
    const c = client();
    await c.listScans();
    await sim.control(0).setScenario({ down: 'refuse' });
    const refused = await caught(c.listScans());
    expect(refused).toMatchObject({ kind: 'unreachable', transient: true, instanceId: 'scanner1' });

    await sim.control(0).setScenario({ down: 'reset' });
    const reset = await caught(c.listScans());
    expect(reset).toMatchObject({ kind: 'unreachable', transient: true, instanceId: 'scanner1' });
    expect(reset.message).toMatch(/^scanner1: list scans failed: scanner unreachable \(/);

    await sim.control(0).setScenario({ down: '503' });
    expect(await caught(c.listScans())).toMatchObject({ kind: 'server', httpStatus: 503, transient: true });

    await sim.control(0).setScenario({ down: false });
    expect(await c.listScans()).toEqual([]);
  });

  it('asks again, twice, when a read meets a brief 503 or a reset connection, but never repeats a write', async () => {
    const calls: string[] = [];
    const c = client({ onCall: (op, outcome) => calls.push(`${op}: ${outcome}`) });
    await c.listScans();
    calls.length = 0;

    await sim.control(0).setScenario({ down: '503' });
    setTimeout(() => void sim.control(0).setScenario({ down: false }), 100);
    expect(await c.listScans()).toEqual([]);
    expect(calls).toEqual(['list scans: server', 'list scans: ok']);

    calls.length = 0;
    await sim.control(0).setScenario({ down: 'reset' });
    expect(await caught(c.listScans())).toMatchObject({ kind: 'unreachable' });
    expect(calls).toEqual(Array(3).fill('list scans: unreachable'));

    await sim.control(0).setScenario({ down: false });
    const id = await c.createScan({ name: 'orch-launch-once', targets: ['192.0.2.9'] });
    calls.length = 0;
    await sim.control(0).setScenario({ down: '503' });
    expect(await caught(c.launchScan(id))).toMatchObject({ httpStatus: 503 });
    expect(calls).toEqual([`launch scan ${id}: server`]);
    await sim.control(0).setScenario({ down: false });
  });

  it('times out a call the scanner does not answer in time', async () => {
    await sim.control(0).setScenario({ latencyMs: 1500 });
    const c = client({ timeoutMs: 300 });
    const err = await caught(c.listScans());
    expect(err).toMatchObject({ kind: 'timeout', transient: true });
  });

  it('keeps launched scans beyond max_scans pending until a slot frees', async () => {
    await sim.control(0).setScenario({ maxScans: 1, scanDurationMs: 400 });
    const c = client();
    const ids = [];
    for (const n of [1, 2, 3])
      ids.push(await c.createScan({ name: `orch-cap-${n}`, targets: ['192.0.2.100'] }));
    for (const id of ids) await c.launchScan(id);
    const states = await Promise.all(ids.map((id) => c.getScan(id)));
    expect(states.filter((s) => s.state === 'pending')).toHaveLength(2);
    expect(states.filter((s) => s.state === 'pending').every((s) => s.progress === 0)).toBe(true);
    for (const id of ids)
      await waitFor(
        () => c.getScan(id),
        (s) => s.state === 'completed',
      );
    expect(sim.control(0).stats()).toMatchObject({ launched: 3, max_running: 1, running: 0 });
  });

  it('shows a scan the engine gave up on as aborted', async () => {
    await sim.control(0).setScenario({ scanDurationMs: 5000, abortAfterMs: 100 });
    const c = client();
    const id = await c.createScan({ name: 'orch-abort', targets: ['192.0.2.110'] });
    await c.launchScan(id);
    const s = await waitFor(
      () => c.getScan(id),
      (x) => x.state === 'aborted',
    );
    expect(s).toMatchObject({ nessusStatus: 'aborted', progress: 100 });
  });

  it('turns a failed export into a server error and a slow one into a timeout, leaving no file behind', async () => {
    const c = client();
    const id = await c.createScan({ name: 'orch-export-faults', targets: ['192.0.2.120'] });
    await c.launchScan(id);
    await waitFor(
      () => c.getScan(id),
      (s) => s.state === 'completed',
    );

    await sim.control(0).setScenario({ failExport: true });
    const dest = join(dir, 'faults.nessus');
    expect((await caught(c.exportNessus(id, dest, { pollIntervalMs: 50 }))).kind).toBe('server');

    await sim.control(0).setScenario({ failExport: false, exportDelayMs: 5000 });
    const slow = await caught(c.exportNessus(id, dest, { pollIntervalMs: 50, timeoutMs: 300 }));
    expect(slow.kind).toBe('timeout');
    await expect(stat(dest)).rejects.toThrow();
    expect(await partialFiles(dest)).toEqual([]);
  });

  it('serves the real-world report when asked to, byte for byte', async () => {
    await sim.control(0).setScenario({ exportSource: 'fixture', fixturePath: FIXTURE });
    const c = client();
    const id = await c.createScan({ name: 'orch-fixture', targets: ['192.168.16.133'] });
    await c.launchScan(id);
    await waitFor(
      () => c.getScan(id),
      (s) => s.state === 'completed',
    );
    const dest = join(dir, 'fixture.nessus');
    const { bytes } = await c.exportNessus(id, dest, { pollIntervalMs: 50 });
    expect(bytes).toBe((await stat(FIXTURE)).size);
    expect(countItems(await readFile(dest, 'utf8'))).toEqual({ total: 230, sev: [135, 2, 9, 77, 7] });
  });
});

describe('NessusClient against the simulator (HTTPS)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let caFile: string;
  const clients: NessusClient[] = [];
  const client = (over: Partial<NessusConnectionOptions>) => {
    const c = new NessusClient({
      instanceId: 'scanner-tls',
      url: sim.scanners[0].url,
      username: 'nessus',
      password: 'nessus',
      timeoutMs: 3000,
      ...over,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nessus-tls-'));
    caFile = join(dir, 'ca.pem');
    sim = await startSimulator({ port: 0, https: true, certOut: caFile, scenario: { scanDurationMs: 0 } });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies the scanner with the CA file and runs a scan', async () => {
    expect(sim.scanners[0].url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const c = client({ caFile });
    expect((await c.serverStatus()).status).toBe('ready');
    const id = await c.createScan({ name: 'orch-tls', targets: ['192.0.2.130'] });
    await c.launchScan(id);
    expect(
      (
        await waitFor(
          () => c.getScan(id),
          (s) => s.state === 'completed',
        )
      ).progress,
    ).toBe(100);
    const { bytes } = await c.exportNessus(id, join(dir, 'tls.nessus'), { pollIntervalMs: 20 });
    expect(bytes).toBeGreaterThan(1000);
  });

  it('serves the same CA at /_sim/cert and in --cert-out', async () => {
    const ca = await readFile(caFile, 'utf8');
    expect(sim.caPem).toBe(ca);
    const served = await new Promise<string>((resolve, reject) => {
      https
        .get(`${sim.scanners[0].url}/_sim/cert`, { ca }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    expect(served).toBe(ca);
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('refuses a scanner whose certificate it cannot verify', async () => {
    const err = await caught(client({}).serverStatus());
    expect(err).toMatchObject({ kind: 'unreachable', transient: false, instanceId: 'scanner-tls' });
    expect(err.message).toMatch(/certificate/i);

    const otherCa = join(dir, 'other-ca.pem');
    const other = await startSimulator({ port: 0, https: true });
    try {
      await writeFile(otherCa, other.caPem!);
    } finally {
      await other.stop();
    }
    expect((await caught(client({ caFile: otherCa }).serverStatus())).kind).toBe('unreachable');
  });

  it('skips verification only when tls_verify is false, and warns about it', async () => {
    const warnings: string[] = [];
    const c = client({ tlsVerify: false, logger: { warn: (m) => warnings.push(m) } });
    expect((await c.serverStatus()).status).toBe('ready');
    expect(warnings).toEqual([expect.stringContaining('scanner-tls: tls_verify is false')]);
  });
});

describe('NessusClient against a scanner that stops sending mid-download', () => {
  const REPORT = `<NessusClientData_v2>${'x'.repeat(8190)}</NessusClientData_v2>`;
  const halfSent: http.ServerResponse[] = [];
  let server: http.Server;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nessus-stall-'));
    // A scanner behind a path prefix whose export download sends a first part and then nothing.
    server = http.createServer((req, res) => {
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'POST' && req.url === '/nessus/scans/7/export') return json({ file: 1 });
      if (req.url === '/nessus/scans/7/export/1/status') return json({ status: 'ready' });
      if (req.url === '/nessus/scans/7/export/1/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write('<NessusClientData_v2>'.padEnd(4096, ' '));
        return;
      }
      if (req.method === 'POST' && req.url === '/nessus/scans/8/export') return json({ file: 2 });
      if (req.url === '/nessus/scans/8/export/2/status') return json({ status: 'ready' });
      if (req.url === '/nessus/scans/8/export/2/download') {
        // Each download sends its first half, and its second only once the other download has begun.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(REPORT.slice(0, REPORT.length / 2));
        halfSent.push(res);
        if (halfSent.length === 2) for (const r of halfSent.splice(0)) r.end(REPORT.slice(REPORT.length / 2));
        return;
      }
      res.writeHead(404).end('{"error":"not found"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  /** A client of this scanner (behind its path prefix). */
  const clientOf = (instanceId: string, timeoutMs: number) =>
    new NessusClient({
      instanceId,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/nessus/`,
      accessKey: 'a'.repeat(64),
      secretKey: 'b'.repeat(64),
      timeoutMs,
    });

  it('lets two downloads of one export to the same file (a step and its stale twin) both complete', async () => {
    const c = clientOf('scanner-twice', 5000);
    const dest = join(dir, 'twice.nessus');
    try {
      const results = await Promise.all([
        c.exportNessus(8, dest, { pollIntervalMs: 10 }),
        c.exportNessus(8, dest, { pollIntervalMs: 10 }),
      ]);
      expect(results).toEqual([{ bytes: REPORT.length }, { bytes: REPORT.length }]);
      expect(await readFile(dest, 'utf8')).toBe(REPORT);
      expect(await partialFiles(dest)).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('gives up after the call timeout of silence and leaves no partial file', async () => {
    const c = clientOf('scanner-stall', 300);
    const dest = join(dir, 'stalled.nessus');
    try {
      const err = await caught(c.exportNessus(7, dest, { pollIntervalMs: 10 }));
      expect(err).toMatchObject({ kind: 'timeout', transient: true, instanceId: 'scanner-stall' });
      expect(err.message).toBe('scanner-stall: export scan 7 failed: download stalled');
      await expect(stat(dest)).rejects.toThrow();
      expect(await partialFiles(dest)).toEqual([]);
    } finally {
      c.close();
    }
  });
});
