import { ProgressReport, ProgressSample, waitForTerminal } from './scan-progress';

const sample = (status: ProgressSample['status'], phase: ProgressSample['phase'], progress: number) => ({
  status,
  phase,
  progress,
});

describe('waitForTerminal', () => {
  it('reports strictly growing progress through the phases and ends at 100 with the terminal task', async () => {
    const seq = [
      sample('queued', 'waiting_for_scanner', 0),
      sample('queued', 'waiting_for_scanner', 0),
      sample('running', 'creating', 0),
      sample('running', 'scanning', 40),
      sample('running', 'scanning', 30), // a lower figure never makes reported progress go back
      sample('running', 'exporting', 99),
      sample('running', 'parsing', 99),
      sample('completed', 'done', 100),
    ];
    let i = 0;
    const reports: ProgressReport[] = [];
    const out = await waitForTerminal(
      async () => seq[Math.min(i++, seq.length - 1)],
      async (p) => {
        reports.push(p);
      },
      new AbortController().signal,
      { pollMs: 0, maxWaitMs: 60_000, heartbeatMs: 60_000 },
    );
    expect(out).toEqual({ task: sample('completed', 'done', 100), gaveUp: false });
    const values = reports.map((r) => r.progress);
    for (let k = 1; k < values.length; k++) expect(values[k]).toBeGreaterThan(values[k - 1]);
    expect(values.at(-1)).toBe(100);
    expect(values.slice(0, -1).every((v) => v < 100)).toBe(true);
    expect(reports.map((r) => r.message)).toContain('scan running, phase scanning, 40%');
    expect(reports.at(-1)!.message).toBe('scan completed');
    // The repeated queued sample is not reported twice.
    expect(reports.filter((r) => r.message.includes('waiting_for_scanner'))).toHaveLength(1);
  });

  it('gives up after maxWaitMs and returns the task as it is', async () => {
    let t = 0;
    const out = await waitForTerminal(
      async () => {
        t += 1000;
        return sample('running', 'scanning', 10);
      },
      async () => undefined,
      new AbortController().signal,
      { pollMs: 0, maxWaitMs: 5000, heartbeatMs: 60_000 },
      () => t,
    );
    expect(out.gaveUp).toBe(true);
    expect(out.task.status).toBe('running');
  });

  it('stops when the signal aborts (client cancelled or server shutting down)', async () => {
    const ac = new AbortController();
    let reads = 0;
    const out = await waitForTerminal(
      async () => {
        if (++reads === 2) ac.abort();
        return sample('queued', 'waiting_for_scanner', 0);
      },
      async () => undefined,
      ac.signal,
      { pollMs: 50, maxWaitMs: 60_000, heartbeatMs: 60_000 },
    );
    expect(out.gaveUp).toBe(true);
    expect(reads).toBe(2);
  });

  it('sends heartbeats without a change, still strictly growing, and survives a failing report', async () => {
    let t = 0;
    let reads = 0;
    const values: number[] = [];
    await waitForTerminal(
      async () => {
        t += 30_000;
        return ++reads < 5 ? sample('running', 'scanning', 99) : sample('failed', 'done', 99);
      },
      async (p) => {
        values.push(p.progress);
        if (values.length === 2) throw new Error('client went away');
      },
      new AbortController().signal,
      { pollMs: 0, maxWaitMs: 600_000, heartbeatMs: 20_000 },
      () => t,
    );
    expect(values).toHaveLength(5);
    for (let k = 1; k < values.length; k++) expect(values[k]).toBeGreaterThan(values[k - 1]);
    expect(values.at(-1)).toBe(100);
  });
});
