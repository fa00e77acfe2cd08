/**
 * parse: ingestion of a generated 500 MB .nessus export into the findings store (MB/s and peak RSS
 * growth, measured in a child process from /proc), and get_scan_results pages filtered over a store of
 * 100,000 findings (latency percentiles of queryResults, the function behind the REST route and the tool).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { writeSyntheticReport, type SyntheticReportOptions } from '../simulator/report-generator';
import { ingestNessusReport } from '../src/results/ingest';
import { queryResults, type ResultsQuery } from '../src/results/results-query';
import type { Task } from '../src/tasks/task';
import { newTask } from '../src/tasks/task-state-machine';
import { Cleanup, figure, fmt, header, latencySummary, removeDir, ROOT, tempDir } from './support';

const TARGET_MB = Number(process.env.BENCH_PARSE_MB ?? 500);
const PAGE_FINDINGS = 100_000;
const MB = 1024 * 1024;

async function generate(path: string, opts: SyntheticReportOptions): Promise<number> {
  const out = createWriteStream(path);
  const counts = await writeSyntheticReport(out, opts);
  out.end();
  await once(out, 'close');
  return counts.total;
}

/** Hosts needed for `mb` megabytes with this shape, from a small sample written to nowhere. */
async function hostsFor(mb: number, shape: Omit<SyntheticReportOptions, 'hosts'>): Promise<number> {
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  await writeSyntheticReport(sink, { ...shape, hosts: 50 });
  return Math.ceil((mb * MB) / (bytes / 50));
}

/**
 * Runs the built ingestion (dist/results/ingest.js) in a plain-node process, as a worker runs it. A
 * small report is ingested first, so the process is warm like a running worker (its young generation
 * already in use); then the peak-RSS counter is reset (/proc/self/clear_refs) and the big report is
 * ingested: growth = peak RSS during it (VmHWM) minus RSS before it.
 */
function ingestInChild(
  warm: string,
  file: string,
  outDir: string,
): Promise<{ seconds: number; findings: number; baseMb: number; peakMb: number; coldGrowthMb: number }> {
  const code = String.raw`
    const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
    const { join } = require('node:path');
    const { ingestNessusReport } = require(${JSON.stringify(join(ROOT, 'dist/results/ingest.js'))});
    const kb = (name) => Number(new RegExp('^' + name + ':\\s+(\\d+) kB', 'm').exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const [warm, file, out] = process.argv.slice(1);
    (async () => {
      mkdirSync(join(out, 'warm'), { recursive: true });
      mkdirSync(join(out, 'big'), { recursive: true });
      const coldBase = kb('VmRSS');
      await ingestNessusReport(warm, join(out, 'warm'), { scanType: 'untrusted' });
      const coldGrowthMb = kb('VmHWM') - coldBase;
      writeFileSync('/proc/self/clear_refs', '5');
      const baseMb = kb('VmRSS');
      const t0 = performance.now();
      const r = await ingestNessusReport(file, join(out, 'big'), { scanType: 'untrusted' });
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(JSON.stringify({ seconds, findings: r.findings, baseMb, peakMb: kb('VmHWM'), coldGrowthMb }));
    })();`;
  const profile =
    process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/out')}`] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...profile, '-e', code, warm, file, outDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (c) =>
      c === 0 ? resolve(JSON.parse(out)) : reject(new Error(`ingest child exited with ${c}`)),
    );
  });
}

function completedTask(): Task {
  const t = newTask({
    task_id: 'ne_scan_20260101_000000_00000000',
    name: 'bench',
    targets: ['10.0.0.0/16'],
    scan_type: 'untrusted',
    scanner_pool: 'nessus',
    trace_id: 'bench',
    client_id: 'anonymous',
  });
  return { ...t, status: 'completed', phase: 'done', progress: 100 };
}

export async function run(): Promise<void> {
  header(`parse: ${TARGET_MB} MB .nessus ingestion, filtered pages over ${fmt(PAGE_FINDINGS)} findings`);
  const cleanup = new Cleanup();
  try {
    const dir = tempDir('parse');
    cleanup.add('temp dir', () => removeDir(dir));

    const shape = { findingsPerHost: 50, pluginOutputBytes: 1500, seed: 7 };
    const big = join(dir, 'big.nessus');
    const expected = await generate(big, { ...shape, hosts: await hostsFor(TARGET_MB, shape) });
    const sizeMb = statSync(big).size / MB;
    const warm = join(dir, 'warm.nessus');
    await generate(warm, { ...shape, hosts: 100 });
    const ingest = await ingestInChild(warm, big, join(dir, 'stores'));
    removeDir(join(dir, 'stores'));
    const rate = sizeMb / ingest.seconds;
    const growth = ingest.peakMb - ingest.baseMb;
    figure('report', `${fmt(sizeMb)} MB, ${fmt(expected)} findings`);
    figure('ingestion', `${fmt(rate, 1)} MB/s`, '>= 50 MB/s', rate >= 50);
    figure('ingestion time', `${fmt(ingest.seconds, 1)} s`);
    figure('peak RSS growth (warm process)', `${fmt(growth)} MB`, '< 100 MB', growth < 100);
    figure('RSS growth of a first, small ingestion', `${fmt(ingest.coldGrowthMb)} MB`);
    if (ingest.findings !== expected) figure('WRONG finding count', `${ingest.findings} != ${expected}`);

    // 2,000 hosts x 50 findings, default plugin outputs.
    const small = join(dir, 'page.nessus');
    const storeDir = join(dir, 'page-store');
    await mkdir(storeDir);
    const total = await generate(small, { hosts: PAGE_FINDINGS / 50, findingsPerHost: 50, seed: 3 });
    const r = await ingestNessusReport(small, storeDir, { scanType: 'untrusted' });
    if (r.findings !== total) throw new Error(`ingested ${r.findings} findings, expected ${total}`);
    const task = completedTask();
    const queries: Array<[string, ResultsQuery]> = [
      ['no filter, page 1', {}],
      ['severity >=3', { filters: { severity: '>=3' } }],
      ['plugin_name "ssl", page 20', { filters: { plugin_name: 'ssl' }, page: 20 }],
      ['host substring + cvss >= 7', { filters: { host: '10.0.3.', cvss3_base_score: '>=7' } }],
      ['cve substring, full profile', { filters: { cve: 'CVE-2021' }, schema_profile: 'full' }],
      ['exploit_available, page_size 100', { filters: { exploit_available: true }, page_size: 100 }],
    ];
    let worst = 0;
    for (const [label, q] of queries) {
      for (let i = 0; i < 5; i++) await queryResults(task, storeDir, q);
      const samples: number[] = [];
      let items = 0;
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        const page = await queryResults(task, storeDir, q);
        samples.push(performance.now() - t0);
        items = page.pagination.total_items;
      }
      const l = latencySummary(samples);
      worst = Math.max(worst, l.p95);
      figure(`page: ${label}`, `p95 ${fmt(l.p95, 1)} ms`, undefined);
      process.stdout.write(`    p50 ${fmt(l.p50, 1)} ms, ${fmt(items)} matching\n`);
    }
    figure('filtered page, worst p95', `${fmt(worst, 1)} ms`, '< 50 ms', worst < 50);
  } finally {
    await cleanup.run();
  }
}
