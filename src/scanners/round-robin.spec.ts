import { Candidate, pickRoundRobin } from './round-robin';

const pool: Candidate[] = [
  { instanceId: 'a', max: 2 },
  { instanceId: 'b', max: 1 },
  { instanceId: 'c', max: 3 },
];

describe('pickRoundRobin', () => {
  it('starts after the last choice and wraps around', () => {
    const none = () => 0;
    expect(pickRoundRobin(pool, none, null)).toBe('a');
    expect(pickRoundRobin(pool, none, 'a')).toBe('b');
    expect(pickRoundRobin(pool, none, 'c')).toBe('a');
    expect(pickRoundRobin(pool, none, 'gone')).toBe('a');
  });

  it('spreads consecutive tasks over every instance', () => {
    const active = new Map<string, number>();
    const picks: string[] = [];
    let last: string | null = null;
    for (let i = 0; i < 6; i++) {
      last = pickRoundRobin(pool, (id) => active.get(id) ?? 0, last);
      picks.push(last!);
      active.set(last!, (active.get(last!) ?? 0) + 1);
    }
    // b (max 1) is skipped once full; the others keep alternating until all six slots are used.
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'c', 'c']);
    expect(pickRoundRobin(pool, (id) => active.get(id) ?? 0, last)).toBeNull();
  });

  it('skips full instances and returns null for an empty pool', () => {
    expect(pickRoundRobin(pool, (id) => (id === 'b' ? 1 : 0), 'a')).toBe('c');
    expect(pickRoundRobin([], () => 0, null)).toBeNull();
  });
});
