/** The raw .nessus export kept in the task directory for GET /api/v1/scans/:taskId/report. */
import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { NotFoundError } from '../common/errors';

/** File name of the raw export in DATA_DIR/<task_id>/ (SPEC §3). */
export const RAW_REPORT_FILE = 'scan.nessus';

export function rawReportPath(taskDir: string): string {
  return join(taskDir, RAW_REPORT_FILE);
}

/** Opens the raw export for streaming to a client; NotFoundError if the scan has not been exported. */
export async function openRawReport(
  taskId: string,
  taskDir: string,
): Promise<{ stream: ReadStream; size: number }> {
  const path = rawReportPath(taskDir);
  try {
    const { size } = await stat(path);
    return { stream: createReadStream(path), size };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`no report for task ${taskId}: the scan has not been exported`);
    }
    throw err;
  }
}
