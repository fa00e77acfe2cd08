/**
 * footprint: time from `node dist/main.js` to /health/ready answering 200, and the idle RSS (/proc)
 * 15 s later, for the all-mode process (three starts, median) and, for comparison, api and worker mode.
 */
import {
  benchPrefix,
  Cleanup,
  deletePrefix,
  figure,
  fmt,
  header,
  procFigures,
  removeDir,
  sleep,
  startGateway,
  startSimulatorProcess,
  tempDir,
  writeScannersYaml,
} from './support';

const IDLE_SECONDS = 15;

export async function run(): Promise<void> {
  header('footprint: start-up time and idle RSS');
  const cleanup = new Cleanup();
  try {
    const dir = tempDir('footprint');
    cleanup.add('temp dir', () => removeDir(dir));
    const sim = await startSimulatorProcess(dir, 1);
    cleanup.add('simulator', () => sim.stop());
    const scannerConfig = writeScannersYaml(dir, [{ url: sim.urls[0], max: 2 }]);

    const measure = async (mode: string) => {
      const prefix = benchPrefix();
      try {
        const gw = await startGateway({ dir, prefix, scannerConfig, label: mode, env: { APP_MODE: mode } });
        try {
          await sleep(IDLE_SECONDS * 1000);
          return { readyMs: gw.readyMs, ...procFigures(gw.pid) };
        } finally {
          await gw.stop();
        }
      } finally {
        await deletePrefix(prefix);
      }
    };
    const all = [];
    for (let i = 0; i < 3; i++) all.push(await measure('all'));
    all.sort((a, b) => a.readyMs - b.readyMs);
    const median = all[1];
    figure('all: start to ready (median of 3)', `${fmt(median.readyMs)} ms`, 'reported');
    process.stdout.write(`    runs: ${all.map((r) => fmt(r.readyMs)).join(', ')} ms\n`);
    figure(`all: idle RSS after ${IDLE_SECONDS} s`, `${fmt(median.rssMb)} MB`, 'reported');
    figure('all: CPU used by start + idle', `${fmt(median.cpuMs)} ms`);
    for (const mode of ['api', 'worker']) {
      const r = await measure(mode);
      figure(`${mode}: start to ready / idle RSS`, `${fmt(r.readyMs)} ms / ${fmt(r.rssMb)} MB`);
    }
  } finally {
    await cleanup.run();
  }
}
