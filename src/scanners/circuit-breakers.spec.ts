import { BrokenCircuitError, CircuitBreakers, isTransient } from './circuit-breakers';

const transient = () => Object.assign(new Error('connection refused'), { transient: true });
const permanent = () => Object.assign(new Error('404 scan not found'), { transient: false });

async function failTimes(b: CircuitBreakers, id: string, n: number, err: () => Error) {
  for (let i = 0; i < n; i++) {
    await expect(
      b.execute(id, () => {
        throw err();
      }),
    ).rejects.toThrow();
  }
}

describe('CircuitBreakers', () => {
  afterEach(() => jest.useRealTimers());

  it('classifies errors by their transient flag', () => {
    expect(isTransient(transient())).toBe(true);
    expect(isTransient(permanent())).toBe(false);
    expect(isTransient('x')).toBe(false);
  });

  it('opens after the configured run of transient failures and then refuses calls', async () => {
    const b = new CircuitBreakers({ consecutiveFailures: 3, halfOpenAfterMs: 30_000 });
    await failTimes(b, 's1', 2, transient);
    expect(b.isHealthy('s1')).toBe(true);
    await failTimes(b, 's1', 1, transient);
    expect(b.state('s1')).toBe('open');
    expect(b.isHealthy('s1')).toBe(false);
    expect(b.isSelectable('s1')).toBe(false);
    const fn = jest.fn(() => 'called');
    await expect(b.execute('s1', fn)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(fn).not.toHaveBeenCalled();
    expect(b.isHealthy('s2')).toBe(true);
  });

  it('does not count permanent failures, and a success resets the run', async () => {
    const b = new CircuitBreakers({ consecutiveFailures: 2 });
    await failTimes(b, 's1', 5, permanent);
    await failTimes(b, 's1', 1, transient);
    await b.execute('s1', () => 'ok');
    await failTimes(b, 's1', 1, transient);
    expect(b.state('s1')).toBe('closed');
  });

  it('lets one probe through after halfOpenAfter; its success closes the circuit', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const b = new CircuitBreakers({ consecutiveFailures: 1, halfOpenAfterMs: 30_000 });
    await failTimes(b, 's1', 1, transient);
    jest.setSystemTime(1_000_000 + 29_000);
    expect(b.isSelectable('s1')).toBe(false);
    jest.setSystemTime(1_000_000 + 30_000);
    expect(b.isSelectable('s1')).toBe(true);
    expect(b.isHealthy('s1')).toBe(false);
    await expect(b.execute('s1', () => 'probe ok')).resolves.toBe('probe ok');
    expect(b.state('s1')).toBe('closed');
    expect(b.isHealthy('s1')).toBe(true);
  });

  it('re-opens when the probe fails', async () => {
    jest.useFakeTimers({ now: 2_000_000 });
    const b = new CircuitBreakers({ consecutiveFailures: 1, halfOpenAfterMs: 1000 });
    await failTimes(b, 's1', 1, transient);
    jest.setSystemTime(2_000_000 + 1000);
    await failTimes(b, 's1', 1, transient);
    expect(b.state('s1')).toBe('open');
    expect(b.isSelectable('s1')).toBe(false);
  });
});
