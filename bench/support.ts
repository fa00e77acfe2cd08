/** Shared helpers of the benchmarks: processes, Redis prefixes, /proc figures, temp dirs, statistics. */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';

export const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist/main.js');
const SIM_MAIN = join(ROOT, 'dist/simulator/main.js');

export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no one else uses; everything under it is deleted when the benchmark ends. */
export const benchPrefix = (): string => `nmgbench:${randomBytes(4).toString('hex')}`;

export async function deletePrefix(prefix: string, url = redisUrl()): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  let cursor = '0';
  let deleted = 0;
  try {
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `nmgbench-${label}-`));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resources stopped in reverse order at the end of a benchmark, even when it fails. */
export class Cleanup {
  private readonly steps: Array<{ label: string; run: () => unknown }> = [];
  add(label: string, run: () => unknown): void {
    this.steps.push({ label, run });
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
      } catch (err) {
        process.stderr.write(`cleanup ${step.label}: ${(err as Error).message}\n`);
      }
    }
    this.steps.length = 0;
  }
}

export interface Child {
  child: ChildProcess;
  pid: number;
  url: string;
  logPath: string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

function spawnLogged(
  args: string[],
  env: Record<string, string>,
  logPath: string,
  cwd?: string,
): Omit<Child, 'url'> {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    logPath,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
      log.end();
    },
  };
}

/** scanners.yaml: one pool `nessus` with the given scanners. */
export function writeScannersYaml(dir: string, scanners: Array<{ url: string; max: number }>): string {
  const lines = ['nessus:'];
  scanners.forEach((s, i) =>
    lines.push(
      `  - instance_id: scanner${i + 1}`,
      `    url: ${s.url}`,
      '    username: nessus',
      '    password: nessus',
      `    max_concurrent_scans: ${s.max}`,
    ),
  );
  const path = join(dir, 'scanners.yaml');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

export interface GatewayOptions {
  dir: string;
  prefix: string;
  scannerConfig: string;
  env?: Record<string, string>;
  label?: string;
}

/** BENCH_PROFILE=1: gateways write a V8 CPU profile to bench/out/ when they stop (open it in Chrome DevTools). */
function profileArgs(): string[] {
  return process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/out')}`] : [];
}

/** Starts the built gateway (`node dist/main.js`) and waits for /health/ready. */
export async function startGateway(opts: GatewayOptions): Promise<Child & { readyMs: number }> {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` first');
  const port = await freePort();
  const env = {
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: opts.prefix,
    DATA_DIR: join(opts.dir, 'tasks'),
    SCANNER_CONFIG: opts.scannerConfig,
    HOST: '127.0.0.1',
    PORT: String(port),
    // The benchmarks measure throughput, not the per-client limits (the cap is still counted).
    RATE_LIMIT_PER_MINUTE: '1000000',
    MAX_ACTIVE_TASKS_PER_CLIENT: '10000000',
    LOG_LEVEL: 'info',
    ...opts.env,
    // BENCH_GATEWAY_ENV='{"LOG_LEVEL":"warn"}' tries a setting on every gateway a benchmark starts.
    ...(JSON.parse(process.env.BENCH_GATEWAY_ENV ?? '{}') as Record<string, string>),
  };
  const started = Date.now();
  const p = spawnLogged([...profileArgs(), MAIN], env, join(opts.dir, `${opts.label ?? 'gateway'}.log`));
  const url = `http://127.0.0.1:${port}`;
  const deadline = started + 120_000;
  for (;;) {
    if (p.child.exitCode !== null)
      throw new Error(`gateway exited with ${p.child.exitCode}; see ${p.logPath}`);
    if (Date.now() > deadline) {
      await p.stop();
      throw new Error(`gateway not ready in 120 s; see ${p.logPath}`);
    }
    const res = await fetch(`${url}/health/ready`).catch(() => null);
    if (res?.status === 200) break;
    await sleep(50);
  }
  return { ...p, url, readyMs: Date.now() - started };
}

/** A gateway in one APP_MODE (its log file is named after the mode), stopped by `cleanup`. */
export async function startGatewayIn(
  mode: 'all' | 'api' | 'worker',
  opts: GatewayOptions,
  cleanup: Cleanup,
): Promise<Child & { readyMs: number }> {
  const gw = await startGateway({ ...opts, label: opts.label ?? mode, env: { ...opts.env, APP_MODE: mode } });
  cleanup.add(`${mode} gateway`, () => gw.stop());
  return gw;
}

/** A benchmark's temporary directory and Redis prefix, both removed by `cleanup`. */
export function benchWorkspace(label: string, cleanup: Cleanup): { dir: string; prefix: string } {
  const dir = tempDir(label);
  cleanup.add('temp dir', () => removeDir(dir));
  const prefix = benchPrefix();
  cleanup.add('redis keys', () => deletePrefix(prefix));
  return { dir, prefix };
}

/**
 * BENCH_COUNT_REDIS=1: a private redis-server (stopped by `cleanup`) for the gateways to run on, so its
 * command statistics count only theirs; null otherwise.
 */
export async function countingRedis(cleanup: Cleanup): Promise<{ url: string } | null> {
  if (process.env.BENCH_COUNT_REDIS !== '1') return null;
  const redis = await startPrivateRedis();
  cleanup.add('private redis', () => redis.stop());
  return redis;
}

/** Starts the built Nessus simulator (`node dist/simulator/main.js`) in its own process. */
export async function startSimulatorProcess(
  dir: string,
  scanners: number,
  flags: string[] = [],
): Promise<Child & { urls: string[] }> {
  if (!existsSync(SIM_MAIN)) throw new Error('dist/simulator/main.js is missing: run `npm run build` first');
  // Consecutive free ports are not guaranteed; try a few random bases.
  for (let attempt = 0; attempt < 5; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const p = spawnLogged(
      [SIM_MAIN, '--port', String(base), '--scanners', String(scanners), ...flags],
      {},
      join(dir, 'simulator.log'),
    );
    const urls = Array.from({ length: scanners }, (_, i) => `http://127.0.0.1:${base + i}`);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && p.child.exitCode === null) {
      const ok = await Promise.all(
        urls.map((u) =>
          fetch(`${u}/_sim/stats`).then(
            (r) => r.ok,
            () => false,
          ),
        ),
      );
      if (ok.every(Boolean)) return { ...p, url: urls[0], urls };
      await sleep(100);
    }
    await p.stop();
  }
  throw new Error(`the simulator did not start; see ${join(dir, 'simulator.log')}`);
}

/** A raw node:http hello-world server in its own process: the baseline of the HTTP benchmarks. */
export async function startHelloWorld(dir: string): Promise<Child> {
  const port = await freePort();
  const code = `require('node:http').createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"hello":"world"}'); });
  }).listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'));
  process.on('SIGTERM', () => process.exit(0));`;
  const p = spawnLogged(['-e', code], {}, join(dir, 'hello.log'));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if ((await fetch(url).catch(() => null))?.ok) return { ...p, url };
    await sleep(50);
  }
  await p.stop();
  throw new Error('hello world server did not start');
}

/** Which bare Nest app `startMinimalNest` runs. */
export interface MinimalNestOptions {
  platform: 'express' | 'fastify';
  /** A file the route reads and parses per request (a task file: the floor of a status request). */
  readsFile?: string;
}

/**
 * A minimal NestJS 11 application on Express or Fastify (one controller returning a small JSON object,
 * no logging, guards or middleware) in its own process: the framework floor under the gateway.
 */
export async function startMinimalNest(dir: string, opts: MinimalNestOptions): Promise<Child> {
  const port = await freePort();
  const handler = opts.readsFile
    ? `async live() { return JSON.parse(await readFile(${JSON.stringify(opts.readsFile)}, 'utf8')); }`
    : `live() { return { status: 'ok' }; }`;
  const adapter =
    opts.platform === 'fastify' ? "new (require('@nestjs/platform-fastify').FastifyAdapter)()" : 'undefined';
  const code = `require('reflect-metadata');
  const { Controller, Get, Module } = require('@nestjs/common');
  const { NestFactory } = require('@nestjs/core');
  const readFile = require('node:util').promisify(require('node:fs').readFile);
  class Health { ${handler} }
  Get('live')(Health.prototype, 'live', Object.getOwnPropertyDescriptor(Health.prototype, 'live'));
  Controller('health')(Health);
  class App {}
  Module({ controllers: [Health] })(App);
  const adapter = ${adapter};
  (adapter ? NestFactory.create(App, adapter, { logger: false }) : NestFactory.create(App, { logger: false }))
    .then((app) => app.listen(${port}, '127.0.0.1'));
  process.on('SIGTERM', () => process.exit(0));`;
  const name = `nest-${opts.platform}${opts.readsFile ? '-file' : ''}`;
  const p = spawnLogged(['-e', code], {}, join(dir, `${name}.log`), ROOT);
  const url = `http://127.0.0.1:${port}/health/live`;
  for (let i = 0; i < 200; i++) {
    if ((await fetch(url).catch(() => null))?.ok) return { ...p, url };
    await sleep(50);
  }
  await p.stop();
  throw new Error(`the minimal Nest app (${name}) did not start`);
}

/** CPU time (user + system, ms) and memory of a process, from /proc. */
export interface ProcFigures {
  cpuMs: number;
  rssMb: number;
  peakRssMb: number;
}

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

export function procFigures(pid: number | 'self'): ProcFigures {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuMs, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function latencySummary(samplesMs: number[]): { p50: number; p95: number; p99: number; max: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] };
}

/** Machine and load, printed at the top of every benchmark so figures can be compared. */
export function machineLine(): string {
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}; load ${load}`;
}

export function header(name: string): void {
  process.stdout.write(`\n== ${name} ==\n${machineLine()}\n`);
}

/**
 * Runs `call` `calls` times, `inFlight` at once, after 500 warm-up calls: calls per second and this
 * process's CPU ms per call.
 */
export async function measureCalls(
  call: () => Promise<unknown>,
  calls: number,
  inFlight: number,
): Promise<{ rate: number; cpuMs: number }> {
  for (let i = 0; i < 500; i++) await call();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let started = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (started < calls) {
        started++;
        await call();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { rate: calls / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / calls };
}

/** A gateway's unlabelled gauges from one scrape of its /metrics (NaN for one it does not export). */
export async function scrapeGauges(url: string): Promise<(name: string) => number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** One figure: name, measured value, target, and whether it was met. */
export function figure(name: string, value: string, target?: string, met?: boolean): void {
  const verdict = met === undefined ? '' : met ? '  [met]' : '  [MISSED]';
  process.stdout.write(
    `  ${name.padEnd(34)} ${value.padStart(14)}${target ? `   target ${target}` : ''}${verdict}\n`,
  );
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
  /** CPU of `pid` during the measurement, in % of one core (when a pid was given). */
  cpuPct?: number;
  /** CPU of `pid` per answered request, in ms: steadier than the rate when the machine is busy. */
  cpuMsPerRequest?: number;
}

/**
 * HTTP load with autocannon: a short warm-up, then `seconds` of measurement. `perRequest` may vary
 * the path or headers of each request (idempotency keys, task ids).
 */
export async function httpLoad(opts: {
  url: string;
  connections: number;
  seconds: number;
  method?: 'GET' | 'POST';
  body?: string;
  perRequest?: (req: autocannon.Request) => autocannon.Request;
  warmupSeconds?: number;
  /** The server process, whose CPU is reported. */
  pid?: number;
}): Promise<LoadResult> {
  const once = (duration: number) =>
    autocannon({
      url: opts.url,
      connections: opts.connections,
      duration,
      method: opts.method ?? 'GET',
      headers: opts.body ? { 'content-type': 'application/json' } : {},
      body: opts.body,
      requests: opts.perRequest ? [{ setupRequest: opts.perRequest }] : undefined,
    });
  if ((opts.warmupSeconds ?? 2) > 0) await once(opts.warmupSeconds ?? 2);
  const cpuBefore = opts.pid ? procFigures(opts.pid).cpuMs : 0;
  const r = await once(opts.seconds);
  const cpuMs = opts.pid ? procFigures(opts.pid).cpuMs - cpuBefore : undefined;
  return {
    cpuPct: cpuMs === undefined ? undefined : cpuMs / (10 * (r.duration || opts.seconds)),
    cpuMsPerRequest: cpuMs === undefined ? undefined : cpuMs / Math.max(1, r.requests.total),
    rps: r.requests.total / (r.duration || opts.seconds),
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    total: r.requests.total,
  };
}

/** A private, non-persistent redis-server (for counting the commands one request costs). */
export async function startPrivateRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = tempDir('redis');
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    removeDir(dir);
  };
  for (let i = 0; i < 100; i++) {
    const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    r.on('error', () => undefined);
    const ok = await r.connect().then(
      () => r.ping(),
      () => null,
    );
    r.disconnect();
    if (ok === 'PONG') return { url, stop };
    await sleep(50);
  }
  await stop();
  throw new Error('redis-server did not start (is it installed?)');
}

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats (commands inside scripts included). */
export async function commandStats(url: string, reset = false): Promise<Map<string, number>> {
  const r = new Redis(url);
  try {
    const text = await r.info('commandstats');
    if (reset) await r.config('RESETSTAT');
    const calls = new Map<string, number>();
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1], Number(m[2]));
    return calls;
  } finally {
    r.disconnect();
  }
}

/**
 * Redis commands one request costs: the gateway runs on a private redis-server, `request` is called
 * `n` times one after another, and the commands Redis counted are divided by `n` (the idle background
 * of the same span is measured first and subtracted).
 */
export async function redisCommandsPerRequest(
  start: (redisUrl: string) => Promise<{ stop(): Promise<void> }>,
  request: (i: number) => Promise<void>,
  n = 200,
): Promise<{ total: number; byCommand: Array<[string, number]> } | null> {
  let redis;
  try {
    redis = await startPrivateRedis();
  } catch {
    return null;
  }
  const cleanup = new Cleanup();
  cleanup.add('private redis', () => redis.stop());
  try {
    const app = await start(redis.url);
    cleanup.add('app', () => app.stop());
    for (let i = 0; i < 20; i++) await request(-1 - i);
    await sleep(1000);
    await commandStats(redis.url, true);
    const t0 = Date.now();
    for (let i = 0; i < n; i++) await request(i);
    const spent = Date.now() - t0;
    const during = await commandStats(redis.url, true);
    await sleep(spent);
    const idle = await commandStats(redis.url);
    const per = new Map<string, number>();
    for (const [cmd, calls] of during) {
      if (cmd === 'info' || cmd === 'config') continue;
      const v = (calls - (idle.get(cmd) ?? 0)) / n;
      if (v >= 0.05) per.set(cmd, v);
    }
    const byCommand = [...per].sort((a, b) => b[1] - a[1]);
    return { total: byCommand.reduce((s, [, v]) => s + v, 0), byCommand };
  } finally {
    await cleanup.run();
  }
}

export function printCommands(label: string, r: Awaited<ReturnType<typeof redisCommandsPerRequest>>): void {
  if (!r) {
    figure(label, 'n/a (no redis-server on PATH)');
    return;
  }
  figure(label, fmt(r.total, 1));
  process.stdout.write(`    ${r.byCommand.map(([c, v]) => `${c} ${fmt(v, 1)}`).join(', ')}\n`);
}
