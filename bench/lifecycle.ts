/**
 * lifecycle: zero-length simulated scans end to end with one worker process. N scans are submitted
 * through an api-mode gateway first; then one worker-mode gateway starts and takes every scan through
 * admit, create, launch, poll, export and parse. Figure: completed scans per second from the worker's
 * start to the last completion (the poll interval, 1 s, adds latency but not cost).
 */
import {
  Cleanup,
  benchWorkspace,
  commandStats,
  countingRedis,
  figure,
  fmt,
  header,
  procFigures,
  sleep,
  startGatewayIn,
  startSimulatorProcess,
  writeScannersYaml,
} from './support';

const SCANS = Number(process.env.BENCH_SCANS ?? 1000);

export async function submitMany(url: string, count: number, concurrency = 20): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const res = await fetch(`${url}/api/v1/scans`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            targets: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
            name: `bench ${i}`,
          }),
        });
        if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
        ids.push(((await res.json()) as { task_id: string }).task_id);
      }
    }),
  );
  return ids;
}

export async function countWithStatus(url: string, status: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/scans?status=${status}&limit=1`);
  if (!res.ok) throw new Error(`list answered ${res.status}`);
  return ((await res.json()) as { total: number }).total;
}

export async function run(): Promise<void> {
  header(`lifecycle: ${SCANS} zero-length scans through one worker`);
  const cleanup = new Cleanup();
  try {
    const { dir, prefix } = benchWorkspace('lifecycle', cleanup);
    const sim = await startSimulatorProcess(dir, 1, ['--scan-duration-ms', '0', '--export-delay-ms', '0']);
    cleanup.add('simulator', () => sim.stop());
    const scannerConfig = writeScannersYaml(dir, [{ url: sim.urls[0], max: 10_000 }]);
    // BENCH_COUNT_REDIS=1: the Redis commands per scan are printed too.
    const counting = await countingRedis(cleanup);
    const gateway = {
      dir,
      prefix,
      scannerConfig,
      env: { POLL_INTERVAL_SECONDS: '1', ...(counting ? { REDIS_URL: counting.url } : {}) },
    };

    const api = await startGatewayIn('api', gateway, cleanup);
    const t0 = Date.now();
    await submitMany(api.url, SCANS);
    const submitSeconds = (Date.now() - t0) / 1000;

    const worker = await startGatewayIn('worker', gateway, cleanup);
    if (counting) await commandStats(counting.url, true);
    const started = Date.now();
    const cpu0 = procFigures(worker.pid).cpuMs;
    let done = 0;
    let failed = 0;
    let lastChange = Date.now();
    while (done + failed < SCANS) {
      await sleep(250);
      const [c, f] = await Promise.all([
        countWithStatus(api.url, 'completed'),
        countWithStatus(api.url, 'failed'),
      ]);
      if (c + f !== done + failed) lastChange = Date.now();
      done = c;
      failed = f;
      if (Date.now() - lastChange > 60_000)
        throw new Error(`stalled at ${done} completed, ${failed} failed of ${SCANS}`);
    }
    const seconds = (Date.now() - started) / 1000;
    const cpu = procFigures(worker.pid);
    const commands = counting ? await commandStats(counting.url) : null;
    const rate = done / seconds;

    figure('submitted (api mode, 20 clients)', `${fmt(SCANS / submitSeconds)} scans/s`);
    figure('completed with one worker', `${fmt(rate, 1)} scans/s`, '>= 100 scans/s', rate >= 100);
    figure('failed', `${failed} of ${SCANS}`);
    figure('worker CPU', `${fmt((cpu.cpuMs - cpu0) / (10 * seconds))} % of a core`);
    figure('worker CPU per scan', `${fmt((cpu.cpuMs - cpu0) / SCANS, 1)} ms`);
    figure('worker peak RSS', `${fmt(cpu.peakRssMb)} MB`);
    if (commands) {
      // Includes the status counts this benchmark polls through the api gateway (a few per 250 ms).
      const per = [...commands].filter(([c]) => c !== 'info' && c !== 'config').sort((a, b) => b[1] - a[1]);
      figure('redis commands per scan', fmt(per.reduce((n, [, v]) => n + v, 0) / SCANS, 1));
      process.stdout.write(
        `    ${per
          .filter(([, v]) => v / SCANS >= 0.5)
          .map(([c, v]) => `${c} ${fmt(v / SCANS, 1)}`)
          .join(', ')}\n`,
      );
    }
  } finally {
    await cleanup.run();
  }
}
