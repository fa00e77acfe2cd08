import { Injectable } from '@nestjs/common';

import type { ScanType, Task } from '../tasks/task';
import { ingestNessusReport, type IngestResult } from './ingest';
import { openRawReport } from './raw-report';
import { queryResults, renderJsonl, type ResultsPage, type ResultsQuery } from './results-query';

/** Results of scans: ingestion of .nessus exports at export time and get_scan_results queries. */
@Injectable()
export class ResultsService {
  /** Parses the export at `nessusPath` into the findings store in `taskDir` (the export stays in place). */
  ingest(nessusPath: string, taskDir: string, opts: { scanType: ScanType }): Promise<IngestResult> {
    return ingestNessusReport(nessusPath, taskDir, opts);
  }

  query(task: Task, taskDir: string, q: ResultsQuery): Promise<ResultsPage> {
    return queryResults(task, taskDir, q);
  }

  renderJsonl(page: ResultsPage): string {
    return renderJsonl(page);
  }

  /** The raw .nessus export as a stream, for GET /api/v1/scans/:taskId/report. */
  openReport(task: Task, taskDir: string) {
    return openRawReport(task.task_id, taskDir);
  }
}
