import { parseArgs } from 'node:util';
import { startSimulator } from './simulator';
import type { Scenario } from './scenario';

const HELP = `Nessus simulator: the subset of the Nessus REST API described in NESSUS_API.md, for tests and demos.

Usage: npm run simulator -- [options]

Listening
  --port <n>              first port (default 8834); scanner i listens on port+i; 0 = ephemeral
  --scanners <n>          number of simulated scanners (default 1), named scanner1..scannerN
  --host <addr>           listen address (default 127.0.0.1)
  --https                 serve HTTPS with a certificate signed by a CA generated at start
  --cert-out <file>       write that CA certificate (PEM) there; also served at GET /_sim/cert

Credentials (defaults nessus / nessus and fixed demo API keys, printed at start)
  --username <u>  --password <p>  --access-key <hex>  --secret-key <hex>

Scenario (per scanner at run time: POST /_sim/scenario with a JSON body of the same names)
  --scan-duration-ms <n>  time a scan runs once it has a slot (default 3000; 0 = done at first poll)
  --max-scans <n>         global.max_scans: extra launched scans wait in pending (default 0 = unlimited)
  --down <mode>           refuse | reset | 503: the scanner is down
  --session-ttl-ms <n>    session idle timeout; an expired token gets 401 (default 1800000)
  --require-api-token     Nessus Pro rule: scan writes need a session + X-API-Token, else 412
  --api-token <uuid>      the token served in /nessus6.js
  --fail-launch           launch answers 500
  --fail-export           exports end in status "error"
  --export-delay-ms <n>   how long an export stays "loading" (default 300)
  --abort-after-ms <n>    running scans end "aborted" after this long (default 0 = never)
  --latency-ms <n>        delay before every API answer (default 0)
  --error-rate <f>        fraction (0-1) of API calls answered 503 at random, writes after they took
                          effect (default 0)
  --launch-conflict-status <500|409>   answer to launching an active scan (default 500)
  --findings-per-host <n> synthetic report size (default 24)
  --plugin-output-bytes <n>  pad each plugin_output to this size (default 0)
  --fixture <file>        serve this .nessus file as every export instead of a synthetic report
  --credentialed-result <success|partial|failed>  outcome reported for scans with SSH credentials

Control API (on every scanner port; add ?scanner=<index> to address another scanner)
  GET  /_sim/stats        created, launched, stopped, deleted, running, max_running, scans by name
  GET  /_sim/scenario     current scenario (secrets left out)
  POST /_sim/scenario     change it, e.g. {"maxScans":1,"down":"503"}
  POST /_sim/expire-sessions   invalidate every session
  POST /_sim/reset        forget scans, sessions and counters; restore the start-up scenario
  GET  /_sim/cert         the CA certificate (HTTPS only)
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string', default: '8834' },
      scanners: { type: 'string', default: '1' },
      host: { type: 'string', default: '127.0.0.1' },
      https: { type: 'boolean' },
      'cert-out': { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      'access-key': { type: 'string' },
      'secret-key': { type: 'string' },
      'scan-duration-ms': { type: 'string' },
      'max-scans': { type: 'string' },
      down: { type: 'string' },
      'session-ttl-ms': { type: 'string' },
      'require-api-token': { type: 'boolean' },
      'api-token': { type: 'string' },
      'fail-launch': { type: 'boolean' },
      'fail-export': { type: 'boolean' },
      'export-delay-ms': { type: 'string' },
      'abort-after-ms': { type: 'string' },
      'latency-ms': { type: 'string' },
      'error-rate': { type: 'string' },
      'launch-conflict-status': { type: 'string' },
      'findings-per-host': { type: 'string' },
      'plugin-output-bytes': { type: 'string' },
      fixture: { type: 'string' },
      'credentialed-result': { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const flagToKey: Record<string, keyof Scenario> = {
    username: 'username',
    password: 'password',
    'access-key': 'accessKey',
    'secret-key': 'secretKey',
    'scan-duration-ms': 'scanDurationMs',
    'max-scans': 'maxScans',
    down: 'down',
    'session-ttl-ms': 'sessionTtlMs',
    'require-api-token': 'requireApiToken',
    'api-token': 'apiToken',
    'fail-launch': 'failLaunch',
    'fail-export': 'failExport',
    'export-delay-ms': 'exportDelayMs',
    'abort-after-ms': 'abortAfterMs',
    'latency-ms': 'latencyMs',
    'error-rate': 'errorRate',
    'launch-conflict-status': 'launchConflictStatus',
    'findings-per-host': 'findingsPerHost',
    'plugin-output-bytes': 'pluginOutputBytes',
    fixture: 'fixturePath',
    'credentialed-result': 'credentialedResult',
  };
  const scenario: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(flagToKey)) {
    const v = (values as Record<string, unknown>)[flag];
    if (v !== undefined) scenario[key] = v;
  }
  if (values.fixture) scenario.exportSource = 'fixture';

  const sim = await startSimulator({
    port: Number(values.port),
    scanners: Number(values.scanners),
    host: values.host,
    https: values.https,
    certOut: values['cert-out'],
    scenario: scenario as Partial<Scenario>,
  });
  const sc = sim.control(0).scenario();
  for (const s of sim.scanners) process.stdout.write(`${s.instanceName} listening on ${s.url}\n`);
  process.stdout.write(
    `login ${sc.username} / ${sc.username === 'nessus' && sc.password === 'nessus' ? 'nessus' : '(as given)'}; ` +
      `API keys: accessKey=${sc.accessKey}; secretKey=(${values['secret-key'] ? 'as given' : 'default, see simulator/scenario.ts'})\n`,
  );
  if (values['cert-out']) process.stdout.write(`CA certificate written to ${values['cert-out']}\n`);

  const shutdown = () => {
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator: ${(err as Error).message}\n`);
  process.exit(1);
});
