/**
 * tracking: one worker process holding 10,000 running simulated scans at POLL_INTERVAL_SECONDS=30.
 * The scans are submitted through an api-mode gateway and admitted, created and launched by the worker
 * (10 simulated scanners with 1,000 slots each, scans that run for hours); once all run, the worker's
 * CPU and RSS are read from /proc over two poll intervals.
 */
import { countWithStatus, submitMany } from './lifecycle';
import {
  Cleanup,
  benchWorkspace,
  commandStats,
  countingRedis,
  figure,
  fmt,
  header,
  procFigures,
  scrapeGauges,
  sleep,
  startGatewayIn,
  startSimulatorProcess,
  writeScannersYaml,
} from './support';

const SCANS = Number(process.env.BENCH_SCANS ?? 10_000);
const POLL_SECONDS = Number(process.env.BENCH_POLL_SECONDS ?? 30);
const SCANNERS = 10;

export async function run(): Promise<void> {
  header(`tracking: ${fmt(SCANS)} running scans in one worker, POLL_INTERVAL_SECONDS=${POLL_SECONDS}`);
  const cleanup = new Cleanup();
  try {
    const { dir, prefix } = benchWorkspace('tracking', cleanup);
    const sim = await startSimulatorProcess(dir, SCANNERS, ['--scan-duration-ms', String(6 * 3600_000)]);
    cleanup.add('simulator', () => sim.stop());
    const perScanner = Math.ceil(SCANS / SCANNERS);
    const scannerConfig = writeScannersYaml(
      dir,
      sim.urls.map((url) => ({ url, max: perScanner })),
    );
    // BENCH_COUNT_REDIS=1: the Redis commands per poll are printed too.
    const counting = await countingRedis(cleanup);
    const gateway = {
      dir,
      prefix,
      scannerConfig,
      env: { POLL_INTERVAL_SECONDS: String(POLL_SECONDS), ...(counting ? { REDIS_URL: counting.url } : {}) },
    };
    const api = await startGatewayIn('api', gateway, cleanup);
    const worker = await startGatewayIn('worker', gateway, cleanup);

    const t0 = Date.now();
    await submitMany(api.url, SCANS);
    process.stdout.write(
      `  submitted ${fmt(SCANS)} in ${fmt((Date.now() - t0) / 1000)} s; waiting until all run\n`,
    );
    let running = 0;
    let lastChange = Date.now();
    while (running < SCANS) {
      await sleep(2000);
      const now = await countWithStatus(api.url, 'running');
      if (now !== running) lastChange = Date.now();
      running = now;
      if (Date.now() - lastChange > 120_000) throw new Error(`stalled at ${running} running of ${SCANS}`);
    }
    const rampSeconds = (Date.now() - t0) / 1000;
    // Let the polls spread over the interval as they do in steady state, then measure two intervals.
    await sleep(POLL_SECONDS * 1000);
    if (counting) await commandStats(counting.url, true);
    const before = procFigures(worker.pid);
    const m0 = Date.now();
    let maxRss = before.rssMb;
    while (Date.now() - m0 < 2 * POLL_SECONDS * 1000) {
      await sleep(1000);
      maxRss = Math.max(maxRss, procFigures(worker.pid).rssMb);
    }
    const after = procFigures(worker.pid);
    const seconds = (Date.now() - m0) / 1000;
    const cpuPct = (after.cpuMs - before.cpuMs) / (10 * seconds);
    const commands = counting ? await commandStats(counting.url) : null;
    const stillRunning = await countWithStatus(api.url, 'running');
    const heap = await heapFigures(worker.url);

    figure('all running after', `${fmt(rampSeconds)} s`);
    // The targets are for 10,000 scans at a 30 s interval; other sizes print figures only.
    const judged = SCANS === 10_000 && POLL_SECONDS === 30;
    figure(
      'worker CPU (steady state)',
      `${fmt(cpuPct, 1)} % of a core`,
      '< 50 %',
      judged ? cpuPct < 50 : undefined,
    );
    figure(
      'worker RSS (max while measured)',
      `${fmt(maxRss)} MB`,
      '< 300 MB',
      judged ? maxRss < 300 : undefined,
    );
    figure('worker peak RSS (incl. ramp-up)', `${fmt(after.peakRssMb)} MB`);
    // Where the RSS goes: live JS heap, the heap V8 holds, and memory outside it (buffers, native).
    figure('worker heap used / total / external', heap);
    figure('CPU per poll', `${fmt((after.cpuMs - before.cpuMs) / ((SCANS * seconds) / POLL_SECONDS), 2)} ms`);
    if (commands) {
      const polls = (SCANS * seconds) / POLL_SECONDS;
      const per = [...commands].filter(([c]) => c !== 'info' && c !== 'config').sort((a, b) => b[1] - a[1]);
      figure('redis commands per poll', fmt(per.reduce((n, [, v]) => n + v, 0) / polls, 1));
      process.stdout.write(
        `    ${per
          .filter(([, v]) => v / polls >= 0.05)
          .map(([c, v]) => `${c} ${fmt(v / polls, 1)}`)
          .join(', ')}\n`,
      );
    }
    figure('still running at the end', `${fmt(stillRunning)} of ${fmt(SCANS)}`);
  } finally {
    await cleanup.run();
  }
}

/** The worker's own nodejs_heap_* and external-memory gauges from its /metrics, in MB. */
async function heapFigures(url: string): Promise<string> {
  const gauge = await scrapeGauges(url);
  return ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']
    .map((g) => `${fmt(gauge(g) / 2 ** 20)} MB`)
    .join(' / ');
}
