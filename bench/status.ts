/**
 * status: GET /api/v1/scans/:taskId (get_scan_status) under autocannon with 50 connections, over 100
 * tasks submitted first, against a raw node:http hello-world server measured in the same run, and
 * against bare Nest 11 apps on Express (the gateway's platform) and on Fastify, answering a constant or
 * reading and parsing one of those task files: the floor of a status request on each platform.
 */
import { join } from 'node:path';
import {
  Cleanup,
  LoadResult,
  MinimalNestOptions,
  benchWorkspace,
  figure,
  fmt,
  header,
  httpLoad,
  startGatewayIn,
  startHelloWorld,
  startMinimalNest,
  writeScannersYaml,
} from './support';

const CONNECTIONS = 50;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const TASKS = 100;

/** Bare Nest apps, each one route: the platform's own cost, then with the one file read a status needs. */
const FLOORS = (taskFile: string): Record<string, MinimalNestOptions> => ({
  'Nest 11 on Express': { platform: 'express' },
  'Nest 11 on Fastify': { platform: 'fastify' },
  'Nest on Express, reads a task': { platform: 'express', readsFile: taskFile },
  'Nest on Fastify, reads a task': { platform: 'fastify', readsFile: taskFile },
});

export async function run(): Promise<void> {
  header('status: GET /api/v1/scans/:taskId');
  const cleanup = new Cleanup();
  try {
    const { dir, prefix } = benchWorkspace('status', cleanup);

    const hello = await startHelloWorld(dir);
    cleanup.add('hello world', () => hello.stop());
    const base = await httpLoad({
      url: hello.url,
      connections: CONNECTIONS,
      seconds: SECONDS,
      pid: hello.pid,
    });
    await hello.stop();

    const gw = await startGatewayIn(
      'api',
      { dir, prefix, scannerConfig: writeScannersYaml(dir, [{ url: 'http://127.0.0.1:9', max: 2 }]) },
      cleanup,
    );
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const res = await fetch(`${gw.url}/api/v1/scans`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ targets: `192.0.2.${i + 1}`, name: `status ${i}` }),
      });
      if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
      ids.push(((await res.json()) as { task_id: string }).task_id);
    }
    const taskFile = join(dir, 'tasks', ids[0], 'task.json');
    const floors: Record<string, LoadResult> = {};
    for (const [label, opts] of Object.entries(FLOORS(taskFile))) {
      const nest = await startMinimalNest(dir, opts);
      cleanup.add(label, () => nest.stop());
      floors[label] = await httpLoad({
        url: nest.url,
        connections: CONNECTIONS,
        seconds: SECONDS,
        pid: nest.pid,
      });
      await nest.stop();
    }
    const floor = floors['Nest 11 on Express'];
    // The gateway's own floor: its middleware stack (logging, trace context, metrics, guards) on a route that does nothing.
    const live = await httpLoad({
      url: `${gw.url}/health/live`,
      connections: CONNECTIONS,
      seconds: SECONDS,
      pid: gw.pid,
    });
    let next = 0;
    const app = await httpLoad({
      url: `${gw.url}/api/v1/scans/${ids[0]}`,
      connections: CONNECTIONS,
      seconds: SECONDS,
      pid: gw.pid,
      perRequest: (req) => ({ ...req, path: `/api/v1/scans/${ids[next++ % ids.length]}` }),
    });

    figure('hello world (node:http)', `${fmt(base.rps)} req/s`);
    for (const [label, r] of Object.entries(floors)) {
      figure(label, `${fmt(r.rps)} req/s`);
      figure('  CPU per request', `${fmt(r.cpuMsPerRequest ?? 0, 3)} ms`);
    }
    figure('gateway GET /health/live', `${fmt(live.rps)} req/s`);
    figure('status', `${fmt(app.rps)} req/s`, '>= 10,000 req/s', app.rps >= 10_000);
    figure('status p50 / p99', `${fmt(app.p50)} / ${fmt(app.p99)} ms`);
    figure('status / hello world', `${fmt((100 * app.rps) / base.rps, 1)} %`);
    figure('status / minimal Nest app (Express)', `${fmt((100 * app.rps) / floor.rps, 1)} %`);
    figure(
      'CPU hello / Nest / live / status',
      `${[base, floor, live, app].map((r) => fmt(r.cpuPct ?? 0)).join(' / ')} %`,
    );
    figure(
      'CPU per request Nest / live / status',
      `${[floor, live, app].map((r) => fmt(r.cpuMsPerRequest ?? 0, 2)).join(' / ')} ms`,
    );
    figure('non-2xx / errors', `${app.non2xx} / ${app.errors} of ${fmt(app.total)}`);
  } finally {
    await cleanup.run();
  }
}
