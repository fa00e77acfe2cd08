import { dueActions, RetentionPolicy } from './housekeeping.service';

const policy: RetentionPolicy = { completedTtlDays: 7, failedTtlDays: 30, nessusScanRetentionHours: 24 };
const NOW = Date.parse('2026-06-01T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const endedAgo = (ms: number) => new Date(NOW - ms).toISOString();
const finished = { scanner_instance: 'scanner1', nessus_scan_id: 42 };

describe('dueActions', () => {
  it('removes a completed task from exactly COMPLETED_TTL_DAYS after it ended', () => {
    const at = (ms: number) =>
      dueActions({ status: 'completed', completed_at: endedAgo(ms), ...finished }, NOW, policy);
    expect(at(7 * DAY - 1).removeTask).toBe(false);
    expect(at(7 * DAY).removeTask).toBe(true);
  });

  it.each(['failed', 'timeout', 'cancelled'] as const)('keeps a %s task for FAILED_TTL_DAYS', (status) => {
    const at = (ms: number) => dueActions({ status, completed_at: endedAgo(ms), ...finished }, NOW, policy);
    expect(at(29 * DAY).removeTask).toBe(false);
    expect(at(30 * DAY).removeTask).toBe(true);
  });

  it('deletes the Nessus scan from NESSUS_SCAN_RETENTION_HOURS after the end, only when there is one', () => {
    expect(
      dueActions({ status: 'completed', completed_at: endedAgo(23 * HOUR), ...finished }, NOW, policy),
    ).toEqual({
      removeTask: false,
      deleteScan: false,
    });
    expect(
      dueActions({ status: 'failed', completed_at: endedAgo(24 * HOUR), ...finished }, NOW, policy),
    ).toEqual({
      removeTask: false,
      deleteScan: true,
    });
    const noScan = {
      status: 'cancelled',
      completed_at: endedAgo(60 * DAY),
      scanner_instance: null,
      nessus_scan_id: null,
    } as const;
    expect(dueActions(noScan, NOW, policy)).toEqual({ removeTask: true, deleteScan: false });
  });

  it.each(['queued', 'running'] as const)('never touches a %s task, however old', (status) => {
    expect(dueActions({ status, completed_at: endedAgo(3650 * DAY), ...finished }, NOW, policy)).toEqual({
      removeTask: false,
      deleteScan: false,
    });
  });

  it('leaves a finished task without a usable end time alone', () => {
    expect(dueActions({ status: 'completed', completed_at: null, ...finished }, NOW, policy).removeTask).toBe(
      false,
    );
    expect(
      dueActions({ status: 'completed', completed_at: 'yesterday', ...finished }, NOW, policy).removeTask,
    ).toBe(false);
  });
});
