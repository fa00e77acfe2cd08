import { computeProgress, isTerminalState, mapNessusStatus } from './nessus-status';

describe('mapNessusStatus', () => {
  it.each([
    ['empty', 'idle'],
    ['pending', 'pending'],
    ['initializing', 'pending'],
    ['running', 'running'],
    ['pausing', 'running'],
    ['paused', 'running'],
    ['resuming', 'running'],
    ['stopping', 'running'],
    ['canceling', 'running'],
    ['processing', 'running'],
    ['publishing', 'running'],
    ['completed', 'completed'],
    ['imported', 'completed'],
    ['canceled', 'canceled'],
    ['cancelled', 'canceled'],
    ['stopped', 'canceled'],
    ['aborted', 'aborted'],
  ])('maps Nessus %s to %s', (nessus, ours) => {
    expect(mapNessusStatus(nessus)).toBe(ours);
  });

  it('keeps an unknown status in progress rather than ending the task', () => {
    expect(mapNessusStatus('rebalancing')).toBe('running');
    expect(isTerminalState(mapNessusStatus('rebalancing'))).toBe(false);
  });

  it('reads a missing status as never launched', () => {
    expect(mapNessusStatus(null)).toBe('idle');
    expect(mapNessusStatus('')).toBe('idle');
  });

  it('knows which states are final', () => {
    expect(['completed', 'canceled', 'aborted'].every((s) => isTerminalState(s as never))).toBe(true);
    expect(['idle', 'pending', 'running'].some((s) => isTerminalState(s as never))).toBe(false);
  });
});

describe('computeProgress (NESSUS_API.md §6.3)', () => {
  const host = (current: number, total = 100) => ({ scanprogresscurrent: current, scanprogresstotal: total });

  it('is 100 for any finished scan and 0 before it runs', () => {
    expect(computeProgress('completed', [host(10)])).toBe(100);
    expect(computeProgress('canceled', [])).toBe(100);
    expect(computeProgress('aborted', null)).toBe(100);
    expect(computeProgress('idle', [host(50)])).toBe(0);
    expect(computeProgress('pending', [host(50)])).toBe(0);
  });

  it('averages host fractions over the hosts seen', () => {
    expect(computeProgress('running', [host(100), host(50)])).toBe(75);
  });

  it('counts hosts not yet started when the expected number is known', () => {
    expect(computeProgress('running', [host(100), host(50)], 6)).toBe(25);
    expect(computeProgress('running', [host(100), host(50)], 1)).toBe(75);
  });

  it('parses the "a-b/c-d" progress string when the counters are missing', () => {
    expect(computeProgress('running', [{ progress: '1927-3854/95562-95562' }])).toBe(50);
  });

  it('guards against a zero total and values out of range', () => {
    expect(computeProgress('running', [host(5, 0)])).toBe(0);
    expect(computeProgress('running', [host(150, 100), host(-5, 100)])).toBe(50);
    expect(computeProgress('running', [])).toBe(0);
    expect(computeProgress('running', null, 4)).toBe(0);
  });

  it('never shows 100 while the scan is still in progress', () => {
    expect(computeProgress('running', [host(100), host(100)])).toBe(99);
  });

  it('prefers an explicit info.progress when the scanner sends one', () => {
    expect(computeProgress('running', [host(10)], 1, 64)).toBe(64);
  });
});
