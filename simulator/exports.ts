import { randomBytes, randomInt } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import type { Scenario } from './scenario';
import type { SimScan, ScanEngine } from './scan-engine';
import { writeSyntheticReport } from './report-generator';

interface ExportJob {
  scanId: number;
  file: number;
  token: string;
  scanName: string;
  readyAt: number;
  failed: boolean;
}

export type ExportStatus = 'loading' | 'ready' | 'error';

/** Export jobs (NESSUS_API.md §7): request, loading → ready|error, streamed download. */
export class ExportService {
  private byFile = new Map<number, ExportJob>();
  private byToken = new Map<string, ExportJob>();

  constructor(
    private readonly scenario: () => Scenario,
    private readonly engine: ScanEngine,
  ) {}

  reset(): void {
    this.byFile.clear();
    this.byToken.clear();
  }

  request(scan: SimScan): { token: string; file: number } {
    const sc = this.scenario();
    const job: ExportJob = {
      scanId: scan.id,
      file: randomInt(100_000_000, 2_000_000_000),
      token: randomBytes(32).toString('hex'),
      scanName: scan.name,
      readyAt: Date.now() + sc.exportDelayMs,
      failed: sc.failExport,
    };
    this.byFile.set(job.file, job);
    this.byToken.set(job.token, job);
    return { token: job.token, file: job.file };
  }

  findByFile(scanId: number, file: number): ExportJob | undefined {
    const job = this.byFile.get(file);
    return job && job.scanId === scanId ? job : undefined;
  }

  findByToken(token: string): ExportJob | undefined {
    return this.byToken.get(token);
  }

  status(job: ExportJob): ExportStatus {
    if (Date.now() < job.readyAt) return 'loading';
    return job.failed ? 'error' : 'ready';
  }

  /** Streams the report into the response, never holding it whole in memory. */
  async download(job: ExportJob, res: ServerResponse): Promise<void> {
    const sc = this.scenario();
    const scan = this.engine.get(job.scanId);
    const safeName = scan.name.replace(/[^A-Za-z0-9._-]/g, '_');
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="${safeName}_${randomBytes(3).toString('hex')}.nessus"`,
    );
    if (sc.exportSource === 'fixture') {
      if (!sc.fixturePath) throw new Error('exportSource is fixture but no fixturePath is set');
      await pipeline(createReadStream(sc.fixturePath), res);
      return;
    }
    await writeSyntheticReport(res, this.engine.reportOptions(scan));
    res.end();
  }
}
