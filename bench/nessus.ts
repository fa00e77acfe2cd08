/**
 * nessus: the gateway's Nessus client (the built dist/ one, in this process) asking the simulator for a
 * scan's state and progress (`getScan`, the call a watcher makes per running scan and interval), 20
 * calls in flight; in the same run, the same GET with node:http and a keep-alive agent, the floor of
 * any client. Figures: calls per second and this process's CPU per call (the simulator is a process of
 * its own).
 */
import http from 'node:http';
import { join } from 'node:path';
import {
  Cleanup,
  ROOT,
  benchWorkspace,
  figure,
  fmt,
  header,
  measureCalls,
  startSimulatorProcess,
} from './support';

const CALLS = Number(process.env.BENCH_CALLS ?? 10_000);
const IN_FLIGHT = 20;

interface Client {
  createScan(spec: { name: string; targets: string[] }): Promise<number>;
  getScan(id: number, hosts?: number): Promise<{ state: string }>;
  close(): void;
}

export async function run(): Promise<void> {
  header(`nessus: the gateway's Nessus client, ${CALLS} scan reads, ${IN_FLIGHT} in flight`);
  const cleanup = new Cleanup();
  try {
    const { dir } = benchWorkspace('nessus', cleanup);
    const sim = await startSimulatorProcess(dir, 1, ['--scan-duration-ms', String(6 * 3600_000)]);
    cleanup.add('simulator', () => sim.stop());
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { NessusClient } = require(join(ROOT, 'dist/scanners/nessus/nessus.client.js')) as {
      NessusClient: new (o: object) => Client;
    };
    const client = new NessusClient({
      instanceId: 'scanner1',
      url: sim.url,
      username: 'nessus',
      password: 'nessus',
    });
    cleanup.add('client', () => client.close());
    const id = await client.createScan({ name: 'bench-nessus', targets: ['192.0.2.10'] });

    // The floor: one keep-alive GET with the session the client logged in with, body parsed as JSON.
    const session = await fetch(`${sim.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'nessus', password: 'nessus' }),
    }).then(async (r) => ((await r.json()) as { token: string }).token);
    const agent = new http.Agent({ keepAlive: true });
    cleanup.add('agent', () => agent.destroy());
    const rawGet = () =>
      new Promise<unknown>((resolve, reject) => {
        const req = http.get(
          `${sim.url}/scans/${id}`,
          { agent, headers: { accept: 'application/json', 'x-cookie': `token=${session}` } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
      });

    const floor = await measureCalls(rawGet, CALLS, IN_FLIGHT);
    const gateway = await measureCalls(() => client.getScan(id, 1), CALLS, IN_FLIGHT);
    figure('node:http keep-alive GET', `${fmt(floor.rate)} calls/s`);
    figure('  CPU per call', `${fmt(floor.cpuMs, 3)} ms`);
    figure('NessusClient.getScan', `${fmt(gateway.rate)} calls/s`);
    figure('  CPU per call', `${fmt(gateway.cpuMs, 3)} ms`);
    figure('CPU per call, client / node:http', `${fmt(gateway.cpuMs / floor.cpuMs, 2)}`);
  } finally {
    await cleanup.run();
  }
}
