/**
 * submit: POST /api/v1/scans (validation, target policy, idempotency claim, task file, enqueue) under
 * autocannon with 50 connections, each request a new scan (own Idempotency-Key), against a raw
 * node:http hello-world server measured in the same run. The gateway runs in api mode, so no consumer
 * competes for the two cores while it is measured.
 */
import { randomBytes } from 'node:crypto';
import {
  Cleanup,
  benchWorkspace,
  figure,
  fmt,
  header,
  httpLoad,
  printCommands,
  redisCommandsPerRequest,
  startGateway,
  startGatewayIn,
  startHelloWorld,
  writeScannersYaml,
} from './support';

const CONNECTIONS = 50;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BODY = JSON.stringify({ targets: '192.0.2.10, 192.0.2.11', name: 'bench submit' });

export async function run(): Promise<void> {
  header('submit: POST /api/v1/scans');
  const cleanup = new Cleanup();
  try {
    const { dir, prefix } = benchWorkspace('submit', cleanup);

    const hello = await startHelloWorld(dir);
    cleanup.add('hello world', () => hello.stop());
    const base = await httpLoad({
      url: hello.url,
      connections: CONNECTIONS,
      seconds: SECONDS,
      method: 'POST',
      body: BODY,
      pid: hello.pid,
    });
    await hello.stop();

    const gw = await startGatewayIn(
      'api',
      { dir, prefix, scannerConfig: writeScannersYaml(dir, [{ url: 'http://127.0.0.1:9', max: 2 }]) },
      cleanup,
    );
    const app = await httpLoad({
      url: `${gw.url}/api/v1/scans`,
      connections: CONNECTIONS,
      seconds: SECONDS,
      pid: gw.pid,
      method: 'POST',
      body: BODY,
      perRequest: (req) => ({
        ...req,
        headers: { ...req.headers, 'idempotency-key': `bench-${randomBytes(8).toString('hex')}` },
      }),
    });

    figure('hello world (node:http)', `${fmt(base.rps)} req/s`);
    figure('hello world p99', `${fmt(base.p99)} ms`);
    figure('submit', `${fmt(app.rps)} req/s`, '>= 3,000 req/s', app.rps >= 3000);
    figure('submit p50', `${fmt(app.p50)} ms`);
    figure('submit p99', `${fmt(app.p99)} ms`, '< 50 ms', app.p99 < 50);
    figure('submit / hello world', `${fmt((100 * app.rps) / base.rps, 1)} %`);
    figure('CPU hello world / gateway', `${fmt(base.cpuPct ?? 0)} / ${fmt(app.cpuPct ?? 0)} % of a core`);
    figure('gateway CPU per submit', `${fmt(app.cpuMsPerRequest ?? 0, 2)} ms`);
    figure('non-2xx / errors', `${app.non2xx} / ${app.errors} of ${fmt(app.total)}`);
    await gw.stop();

    const scannerConfig = writeScannersYaml(dir, [{ url: 'http://127.0.0.1:9', max: 2 }]);
    let url = '';
    const counted = await redisCommandsPerRequest(
      async (redisUrl) => {
        const g = await startGateway({
          dir,
          prefix,
          scannerConfig,
          label: 'counted',
          env: { APP_MODE: 'api', REDIS_URL: redisUrl },
        });
        url = g.url;
        return g;
      },
      async (i) => {
        const res = await fetch(`${url}/api/v1/scans`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `count-${i}` },
          body: BODY,
        });
        if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
        await res.arrayBuffer();
      },
    );
    printCommands('redis commands per submit', counted);
  } finally {
    await cleanup.run();
  }
}
