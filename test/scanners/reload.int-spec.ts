import { LoggerService } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { ScannersFileError } from '../../src/config/scanners-file';
import { CapacityLeases } from '../../src/scanners/capacity-leases.store';
import { CircuitBreakers } from '../../src/scanners/circuit-breakers';
import { NessusClients } from '../../src/scanners/nessus-clients.service';
import { ScannerRegistry } from '../../src/scanners/scanner-registry.service';
import { ScannersModule } from '../../src/scanners/scanners.module';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

const dir = mkdtempSync(join(tmpdir(), 'nmg-reload-'));
const file = join(dir, 'scanners.yaml');
const prefix = uniquePrefix('reload');
const logged: string[] = [];
const logger: LoggerService = {
  log: (m: unknown) => logged.push(`log ${String(m)}`),
  error: (m: unknown) => logged.push(`error ${String(m)}`),
  warn: (m: unknown) => logged.push(`warn ${String(m)}`),
};

const scanner = (id: string, url = '${SCANNER_HOST:-http://127.0.0.1:9}') => `  - instance_id: ${id}
    url: ${url}
    username: nessus
    password: nessus-password
`;

function config(): AppConfig {
  return AppConfig.fromEnv({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    SCANNER_CONFIG: file,
    SCANNER_HOST: 'http://127.0.0.1:9',
  });
}

async function boot(): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config()), RedisModule, ScannersModule],
  })
    .setLogger(logger)
    .compile();
  await moduleRef.init();
  const redis = moduleRef.get(RedisService);
  if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
  return moduleRef;
}

interface RegistryChild {
  proc: ChildProcess;
  next(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  status(): Promise<Record<string, unknown>>;
  output(): string;
  stop(): Promise<void>;
}
const childProcs: ChildProcess[] = [];

/** Runs the scanners module in its own process, where a real SIGHUP reaches the registry. */
function startRegistryChild(scannerConfig: string): RegistryChild {
  const proc = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'registry-child.ts')],
    {
      cwd: join(__dirname, '../..'),
      env: {
        PATH: process.env.PATH,
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
        SCANNER_CONFIG: scannerConfig,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  childProcs.push(proc);
  let out = '';
  let err = '';
  const messages: Record<string, unknown>[] = [];
  const waiters: {
    match: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    out += `${line}\n`;
    if (!line.startsWith('{')) return;
    const msg = JSON.parse(line) as Record<string, unknown>;
    const i = waiters.findIndex((w) => w.match(msg));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else messages.push(msg);
  });
  const next = (match: (m: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const i = messages.findIndex(match);
      if (i >= 0) return resolve(messages.splice(i, 1)[0]);
      waiters.push({ match, resolve });
      proc.once('exit', (code) => reject(new Error(`registry child exited ${code}: ${err}`)));
    });
  return {
    proc,
    next,
    async status() {
      proc.stdin!.write('status\n');
      return (await next((m) => 'status' in m)).status as Record<string, unknown>;
    },
    output: () => out + err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.stdin!.end();
      await exited;
    },
  };
}

let moduleRef: TestingModule;
let registry: ScannerRegistry;

beforeAll(async () => {
  writeFileSync(file, `nessus:\n${scanner('s1')}${scanner('s2')}`);
  moduleRef = await boot();
  registry = moduleRef.get(ScannerRegistry);
}, 30_000);

afterAll(async () => {
  for (const p of childProcs)
    if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL');
  await deletePrefix(moduleRef.get(RedisService).client, prefix);
  await moduleRef.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('kill -HUP of a running process', () => {
  it('swaps in a valid file, and keeps the old configuration on an invalid one, logging why', async () => {
    const hupFile = join(dir, 'hup.yaml');
    writeFileSync(hupFile, `nessus:\n${scanner('s1')}${scanner('s2')}`);
    const child = startRegistryChild(hupFile);
    expect(await child.next((m) => 'ready' in m)).toMatchObject({ ready: true });
    expect(await child.status()).toMatchObject({ version: 1, pools: ['nessus'], scanners: ['s1', 's2'] });

    writeFileSync(hupFile, `nessus:\n${scanner('s1')}dmz:\n${scanner('d1')}`);
    process.kill(child.proc.pid!, 'SIGHUP');
    const reloaded = await child.next((m) => m.level === 'log' && String(m.message).includes('reloaded'));
    expect(reloaded.message).toContain('added d1; removed s2');
    expect(await child.status()).toMatchObject({
      version: 2,
      pools: ['nessus', 'dmz'],
      scanners: ['s1', 'd1'],
      lastReload: { ok: true, version: 2 },
    });

    writeFileSync(
      hupFile,
      `nessus:\n${scanner('s1')}  - instance_id: broken\n    username: nessus\n    password: nessus-password\n`,
    );
    process.kill(child.proc.pid!, 'SIGHUP');
    const refused = await child.next((m) => m.level === 'error');
    expect(refused.message).toContain('pool "nessus", instance "broken": url: is required');
    expect(refused.message).toContain('keeping version 2');
    expect(await child.status()).toMatchObject({
      version: 2,
      pools: ['nessus', 'dmz'],
      scanners: ['s1', 'd1'],
      lastReload: { ok: false, error: expect.stringContaining('instance "broken": url: is required') },
    });
    expect(child.output()).not.toContain('nessus-password');
    await child.stop();
  }, 60_000);
});

describe('ScannerRegistry.reload', () => {
  it('reports an unset variable on reload and keeps running', async () => {
    writeFileSync(file, `nessus:\n${scanner('s1', '${NOT_SET_ANYWHERE}')}`);
    const result = await registry.reload();
    expect(result).toEqual({
      ok: false,
      error: expect.stringContaining('variable NOT_SET_ANYWHERE is not set'),
    });
    expect(registry.snapshot().version).toBe(1);
    expect(registry.snapshot().scanners.map((s) => s.instanceId)).toEqual(['s1', 's2']);
    expect(registry.lastReload()).toMatchObject({ ok: false });
    expect(logged.some((l) => l.startsWith('error') && l.includes('NOT_SET_ANYWHERE'))).toBe(true);
  });

  it('runs a reload asked for during another only after it, so it reads the newer file', async () => {
    const start = registry.snapshot().version;
    writeFileSync(file, `nessus:\n${scanner('s1')}`);
    const first = registry.reload();
    const second = registry.reload();
    // Changed the moment the first reload is done: the second must not have read the file before that.
    const seenAfterFirst = first.then(() => {
      writeFileSync(file, `nessus:\n${scanner('s1')}${scanner('s3')}`);
      return registry.snapshot().scanners.map((s) => s.instanceId);
    });
    expect(await first).toEqual({ ok: true, version: start + 1 });
    expect(await seenAfterFirst).toEqual(['s1']);
    expect(await second).toEqual({ ok: true, version: start + 2 });
    expect(registry.snapshot().scanners.map((s) => s.instanceId)).toEqual(['s1', 's3']);
  });

  it('lets a scan on a removed scanner finish: its entry, client and lease stay usable', async () => {
    writeFileSync(file, `nessus:\n${scanner('s1')}${scanner('gone')}`);
    await registry.reload();
    const leases = moduleRef.get(CapacityLeases);
    const chosen = await registry.select('nessus', 'gone', 'task-on-gone', 60_000);
    expect(chosen).toEqual({ pool: 'nessus', instanceId: 'gone' });
    const client = moduleRef.get(NessusClients).client('gone');

    writeFileSync(file, `nessus:\n${scanner('s1')}`);
    expect(await registry.reload()).toMatchObject({ ok: true });
    expect(registry.snapshot().byId('gone')).toBeUndefined();
    expect(registry.entry('gone')).toMatchObject({ instanceId: 'gone' });
    expect(moduleRef.get(NessusClients).client('gone')).toBe(client);
    expect(await leases.renew('gone', 'task-on-gone', 60_000)).toBe(false);
    expect(await leases.release('gone', 'task-on-gone')).toBe(true);
    // New work can no longer go there.
    await expect(registry.select('nessus', 'gone', 'task-new', 60_000)).rejects.toThrow(
      /unknown scanner instance "gone"/,
    );
  });

  it('rebuilds a scanner client when a reload changes its connection', async () => {
    const clients = moduleRef.get(NessusClients);
    const before = clients.client('s1');
    writeFileSync(file, `nessus:\n${scanner('s1', 'http://127.0.0.1:10')}`);
    await registry.reload();
    expect(clients.client('s1')).not.toBe(before);
    expect(clients.client('s1')).toBe(clients.client('s1'));
  });
});

describe('ScannerRegistry at start-up', () => {
  it('refuses to start on an invalid file, naming the problem', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `nessus:\n  - instance_id: s1\n    url: ftp://x\n    username: u\n    password: p\n`);
    const cfg = AppConfig.fromEnv({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, SCANNER_CONFIG: bad });
    const build = () =>
      new ScannerRegistry(cfg, moduleRef.get(CapacityLeases), moduleRef.get(CircuitBreakers));
    expect(build).toThrow(ScannersFileError);
    expect(build).toThrow(/pool "nessus", instance "s1": url: must be an http\(s\) URL/);
  });
});
