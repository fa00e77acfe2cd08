/** Export-time ingestion: stream a .nessus file into the task's findings store and summarise it. */
import { createReadStream } from 'node:fs';

import type { AuthenticationStatus, ResultsSummary, ScanType, SeverityBreakdown } from '../tasks/task';
import { HostCredentialEvidence, summariseAuthentication, type HostAuthStatus } from './auth-status';
import { FindingsStoreWriter, removeStaleTemporaries } from './findings.store';
import { NessusReportParser, type ReportMetadata } from './nessus-parser';

/** What the store keeps about the scan besides its findings. */
export interface StoredResultsMeta {
  report: ReportMetadata;
  results_summary: ResultsSummary;
  authentication_status: AuthenticationStatus;
}

export interface IngestResult {
  results_summary: ResultsSummary;
  authentication_status: AuthenticationStatus;
  findings: number;
  hosts: Array<{ host: string; authentication: AuthenticationStatus }>;
}

/** The report could not be parsed; the store was not written. */
export class NessusReportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NessusReportError';
  }
}

// Decoded chunks stay below V8's large-object size (~128 KB): larger strings decode ~30x slower here.
const READ_CHUNK_BYTES = 64 * 1024;
const WRITE_FLUSH_BYTES = 512 * 1024;

/**
 * Streams `nessusPath` (the raw export, left in place for GET /scans/:taskId/report) into the findings
 * store in `outDir`, replacing any earlier store atomically. Memory stays bounded by one read chunk,
 * one write buffer and the index columns, whatever the report's size.
 */
export async function ingestNessusReport(
  nessusPath: string,
  outDir: string,
  opts: { scanType: ScanType },
): Promise<IngestResult> {
  const credentialed = opts.scanType !== 'untrusted';
  const severity: SeverityBreakdown = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  const hosts: IngestResult['hosts'] = [];
  const hostStatuses: HostAuthStatus[] = [];
  let evidence = new HostCredentialEvidence();
  let findings = 0;

  await removeStaleTemporaries(outDir);
  const writer = new FindingsStoreWriter<StoredResultsMeta>(outDir);
  const parser = new NessusReportParser({
    hostStart: () => {
      evidence = new HostCredentialEvidence();
    },
    finding: (f) => {
      writer.add(f);
      findings++;
      severity[f.severity_label]++;
      evidence.observe(f.plugin_id, f.plugin_output);
    },
    hostEnd: (h) => {
      evidence.credentialedScanProperty = h.credentialed_scan;
      const status = evidence.status();
      hostStatuses.push(status);
      hosts.push({ host: h.host, authentication: credentialed ? status : 'not_applicable' });
    },
  });

  try {
    const input = createReadStream(nessusPath, { encoding: 'utf8', highWaterMark: READ_CHUNK_BYTES });
    try {
      for await (const chunk of input as AsyncIterable<string>) {
        parser.write(chunk);
        if (writer.bufferedBytes >= WRITE_FLUSH_BYTES) await writer.drain();
      }
      parser.end();
    } catch (err) {
      input.destroy();
      if ((err as NodeJS.ErrnoException).code) throw err;
      throw new NessusReportError(`cannot parse the Nessus report: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const results_summary: ResultsSummary = {
      hosts_scanned: hosts.length,
      total_vulnerabilities: findings,
      severity_breakdown: severity,
    };
    const authentication_status: AuthenticationStatus = credentialed
      ? summariseAuthentication(hostStatuses)
      : 'not_applicable';
    await writer.commit({ report: parser.metadata, results_summary, authentication_status });
    return { results_summary, authentication_status, findings, hosts };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
