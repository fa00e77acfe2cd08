#!/usr/bin/env node
/*
 * npm run demo: the Nessus simulator plus the gateway in all mode, on this machine, until Ctrl-C.
 * Uses the Redis at REDIS_URL (default redis://127.0.0.1:6379) when it answers, else a private
 * redis-server from PATH. Everything it starts it stops again, through the child handles.
 */
'use strict';
/* global require, __dirname, process, setTimeout, URL, fetch */
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS script, run without a build step */

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const GATEWAY_MAIN = path.join(ROOT, 'dist', 'main.js');
const SIMULATOR_MAIN = path.join(ROOT, 'dist', 'simulator', 'main.js');
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const SCAN_DURATION_MS = 15_000;
const STOP_GRACE_MS = 30_000;

const Redis = (() => {
  const mod = require('ioredis');
  return mod.default ?? mod;
})();

const say = (line = '') => process.stdout.write(`${line}\n`);
const fail = (line) => process.stderr.write(`demo: ${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Children in start order; stopped in reverse (gateway before simulator before Redis). */
const children = [];
let tempDir = null;
let sharedRedis = null; // { url, prefix } when the demo wrote into a Redis it did not start
let stopping = null;

function redisClient(url) {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  return client;
}

async function redisAnswers(url) {
  const client = redisClient(url);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function onPath(command) {
  const names = process.platform === 'win32' ? [`${command}.exe`, `${command}.cmd`] : [command];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portIsFree(port, host) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function displayUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Starts a child in its own process group (so the terminal's Ctrl-C reaches only us and we stop it in order). */
function startChild(name, command, args, { env, logFile, onStdoutLine } = {}) {
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: ROOT,
    env: env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    log.write(chunk);
    if (!onStdoutLine) return;
    buffered += chunk.toString('utf8');
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onStdoutLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  child.stderr.on('data', (chunk) => log.write(chunk));
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      log.end();
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      log.end(`${err.message}\n`);
      resolve({ code: null, signal: null, error: err });
    });
  });
  const entry = { name, child, exited, logFile, expectedExit: false };
  children.push(entry);
  exited.then(({ code, signal, error }) => {
    if (entry.expectedExit || stopping) return;
    const how = error ? error.message : signal ? `signal ${signal}` : `code ${code}`;
    fail(`${name} exited unexpectedly (${how}); its log: ${logFile}`);
    printTail(logFile);
    void shutdown(1);
  });
  return entry;
}

function printTail(file, lines = 25) {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    if (text) process.stderr.write(`--- last lines of ${path.basename(file)} ---\n${text}\n---\n`);
  } catch {
    // no log yet
  }
}

async function stopChild(entry) {
  const { child } = entry;
  entry.expectedExit = true;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const result = await Promise.race([entry.exited, sleep(STOP_GRACE_MS).then(() => 'timeout')]);
  if (result === 'timeout') {
    fail(`${entry.name} did not stop within ${STOP_GRACE_MS / 1000}s; killing it`);
    child.kill('SIGKILL');
    await entry.exited;
  }
}

async function deleteDemoKeys() {
  if (!sharedRedis) return;
  const client = redisClient(sharedRedis.url);
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${sharedRedis.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.unlink(...keys);
    } while (cursor !== '0');
  } catch (err) {
    fail(`could not remove the demo keys (${sharedRedis.prefix}*) from Redis: ${err.message}`);
  } finally {
    client.disconnect();
  }
}

function shutdown(exitCode) {
  stopping ??= (async () => {
    say('\nStopping the demo...');
    const running = [...children].reverse();
    // The gateway first (it drains and closes its queues), then the simulator, Redis last.
    for (const entry of running.filter((e) => e.name !== 'redis-server')) await stopChild(entry);
    await deleteDemoKeys();
    for (const entry of running.filter((e) => e.name === 'redis-server')) await stopChild(entry);
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    say('Stopped everything the demo started.');
    process.exit(exitCode);
  })();
  return stopping;
}

async function findOrStartRedis() {
  const configured = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  if (await redisAnswers(configured)) {
    const prefix = `nmg-demo-${crypto.randomBytes(3).toString('hex')}`;
    sharedRedis = { url: configured, prefix };
    say(`Redis: using ${displayUrl(configured)} (keys under ${prefix}*, removed when the demo stops)`);
    return { url: configured, prefix };
  }
  const server = onPath('redis-server');
  if (!server) {
    fail(`nothing answers on ${displayUrl(configured)} and redis-server is not on PATH.`);
    process.stderr.write(
      [
        'Get Redis (6.2 or newer) in one of these ways, then run `npm run demo` again:',
        '  Debian/Ubuntu:  sudo apt-get install redis-server      (the demo starts a private one from PATH)',
        '  macOS:          brew install redis',
        '  Docker:         docker run -d --name nmg-redis -p 6379:6379 redis:7-alpine',
        '  or point REDIS_URL at a Redis you have: REDIS_URL=redis://host:6379 npm run demo',
        '',
      ].join('\n'),
    );
    fs.rmSync(tempDir, { recursive: true, force: true });
    process.exit(1);
  }
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  say(`Redis: nothing answers on ${displayUrl(configured)}; starting a private redis-server on port ${port}`);
  const redisDir = path.join(tempDir, 'redis');
  fs.mkdirSync(redisDir);
  startChild(
    'redis-server',
    server,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
    { logFile: path.join(tempDir, 'redis.log') },
  );
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url)) return { url, prefix: 'nmg' };
    await sleep(200);
  }
  throw new Error(
    `the private redis-server did not answer on port ${port}; see ${path.join(tempDir, 'redis.log')}`,
  );
}

async function startNessusSimulator() {
  const urls = [];
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));
  startChild(
    'simulator',
    process.execPath,
    [SIMULATOR_MAIN, '--port', '0', '--scanners', '3', '--scan-duration-ms', String(SCAN_DURATION_MS)],
    {
      logFile: path.join(tempDir, 'simulator.log'),
      onStdoutLine: (line) => {
        const m = /^(scanner\d+) listening on (\S+)/.exec(line);
        if (m) urls.push({ instance: m[1], url: m[2] });
        if (urls.length === 3) resolveReady();
      },
    },
  );
  const outcome = await Promise.race([ready.then(() => 'ok'), sleep(20_000).then(() => 'timeout')]);
  if (outcome !== 'ok')
    throw new Error(`the simulator did not start; see ${path.join(tempDir, 'simulator.log')}`);
  return urls;
}

function writeScannersYaml(sim) {
  const entry = (s, name) =>
    [
      `  - instance_id: ${s.instance}`,
      `    name: "${name}"`,
      `    url: ${s.url}`,
      '    username: nessus',
      '    password: nessus',
      '    max_concurrent_scans: 2',
    ].join('\n');
  const yaml = [
    '# Written by npm run demo: three simulated Nessus scanners in two pools.',
    'nessus:',
    entry(sim[0], 'Simulated Nessus 1'),
    entry(sim[1], 'Simulated Nessus 2'),
    'dmz:',
    entry(sim[2], 'Simulated Nessus DMZ'),
    '',
  ].join('\n');
  const file = path.join(tempDir, 'scanners.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

async function waitForReady(base, gateway) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (gateway.child.exitCode !== null) throw new Error('the gateway exited during start-up');
    try {
      const res = await fetch(`${base}/health/ready`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(300);
  }
  throw new Error(`the gateway was not ready within 60 s; see ${gateway.logFile}`);
}

function printGuide({ base, apiKey, redisUrl, sim }) {
  const mcp = `${base}/mcp`;
  const auth = `Authorization: Bearer ${apiKey}`;
  const desktop = {
    mcpServers: {
      nessus: {
        command: 'npx',
        args: ['-y', 'mcp-remote', mcp, '--allow-http', '--header', 'Authorization:${AUTH_HEADER}'],
        env: { AUTH_HEADER: `Bearer ${apiKey}` },
      },
    },
  };
  const inspector = `npx @modelcontextprotocol/inspector --cli ${mcp} --transport http --header "${auth}"`;
  const bar = '─'.repeat(78);
  say();
  say(bar);
  say(' nessus-mcp-gateway demo is running (all mode, 3 simulated scanners, polling every 2 s)');
  say(bar);
  say(` MCP (Streamable HTTP)  ${mcp}`);
  say(` MCP (legacy SSE)       ${base}/sse`);
  say(` REST API               ${base}/api/v1    OpenAPI: ${base}/api/docs (send the key)`);
  say(` API key                ${apiKey}`);
  say(` Redis                  ${displayUrl(redisUrl)}`);
  say(` Scanners               pool nessus: ${sim[0].url}, ${sim[1].url}; pool dmz: ${sim[2].url}`);
  say(` Logs                   ${tempDir}`);
  say();
  say('Claude Code:');
  say(`  claude mcp add --transport http nessus ${mcp} --header "${auth}"`);
  say();
  say('Claude Desktop (claude_desktop_config.json; bridges to HTTP with mcp-remote):');
  say(
    JSON.stringify(desktop, null, 2)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
  say();
  say('MCP Inspector CLI:');
  say(`  ${inspector} --method tools/list`);
  say(`  ${inspector} --method tools/call --tool-name run_untrusted_scan \\`);
  say(`      --tool-arg targets=192.0.2.10 --tool-arg 'name=demo scan'`);
  say(`  ${inspector} --method tools/call --tool-name get_scan_status --tool-arg task_id=<task_id>`);
  say(`  ${inspector} --method tools/call --tool-name get_scan_results \\`);
  say(`      --tool-arg task_id=<task_id> --tool-arg 'filters={"severity":"critical"}'`);
  say();
  say('curl (the simulator does not really scan; 192.0.2.0/24 is a documentation range):');
  say(`  export NMG_KEY=${apiKey}`);
  say(`  curl -s -X POST ${base}/api/v1/scans -H "Authorization: Bearer $NMG_KEY" \\`);
  say(`       -H 'Content-Type: application/json' -d '{"targets":"192.0.2.10","name":"demo scan"}'`);
  say(`  curl -s ${base}/api/v1/scans/<task_id> -H "Authorization: Bearer $NMG_KEY"`);
  say(`  curl -s -G ${base}/api/v1/scans/<task_id>/results -H "Authorization: Bearer $NMG_KEY" \\`);
  say(`       --data-urlencode 'filter.severity=critical' -H 'Accept: application/x-ndjson'`);
  say(`  curl -s -OJ ${base}/api/v1/scans/<task_id>/report -H "Authorization: Bearer $NMG_KEY"`);
  say();
  say(`A scan takes about ${SCAN_DURATION_MS / 1000} s on the simulator. Press Ctrl-C to stop everything.`);
  say(bar);
}

async function main() {
  for (const file of [GATEWAY_MAIN, SIMULATOR_MAIN]) {
    if (!fs.existsSync(file)) {
      fail(`${path.relative(ROOT, file)} is missing: run \`npm run build\` first (npm run demo does).`);
      process.exit(1);
    }
  }
  const host = '127.0.0.1';
  const port = Number(process.env.PORT || 3000);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`PORT=${process.env.PORT} is not a port number`);
    process.exit(1);
  }
  if (!(await portIsFree(port, host))) {
    fail(`port ${port} on ${host} is in use; choose another, e.g. PORT=${port + 1} npm run demo`);
    process.exit(1);
  }

  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmg-demo-'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void shutdown(0));

  const redis = await findOrStartRedis();
  const sim = await startNessusSimulator();
  const scannerConfig = writeScannersYaml(sim);
  const apiKey = crypto.randomBytes(24).toString('base64url');
  const base = `http://${host}:${port}`;

  const gatewayEnv = {
    ...process.env,
    APP_MODE: 'all',
    HOST: host,
    PORT: String(port),
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    DATA_DIR: path.join(tempDir, 'tasks'),
    SCANNER_CONFIG: scannerConfig,
    POLL_INTERVAL_SECONDS: '2',
    API_KEYS: `demo:${apiKey}`,
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
  };
  say(`Gateway: starting node dist/main.js on ${base} (log: ${path.join(tempDir, 'gateway.log')})`);
  const gateway = startChild('gateway', process.execPath, [GATEWAY_MAIN], {
    env: gatewayEnv,
    logFile: path.join(tempDir, 'gateway.log'),
  });
  await waitForReady(base, gateway);
  printGuide({ base, apiKey, redisUrl: redis.url, sim });
}

main().catch((err) => {
  fail(err.message);
  for (const entry of children) printTail(entry.logFile, 15);
  void shutdown(1);
});
