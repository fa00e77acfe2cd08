import { HeadRequest, newestAcross, newestFirst, ScoredMember } from './newest-merge';

/**
 * Sorted sets as arrays newest first, answering head requests and counting what was read; members that
 * `keep` rejects are answered as excluded (as a filter set would).
 */
function sortedSets(sets: ScoredMember[][], keep: (id: string) => boolean = () => true) {
  const sorted = sets.map((s) => [...s].sort(newestFirst));
  const stats = { rounds: 0, read: 0 };
  const fetch = async (requests: HeadRequest[]) => {
    stats.rounds++;
    return requests.map(({ index, start, count }) => {
      const slice = sorted[index].slice(start, start + count);
      stats.read += slice.length;
      return slice.map((m) => (keep(m.id) ? m : { ...m, excluded: true }));
    });
  };
  const union = () => {
    const all = new Map<string, number>();
    for (const s of sets) for (const m of s) if (keep(m.id)) all.set(m.id, m.score);
    return [...all].map(([id, score]) => ({ id, score })).sort(newestFirst);
  };
  return { fetch, stats, union };
}

/** A deterministic generator, so a failure names a case that can be run again. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('newestAcross', () => {
  it('orders by score, newest first, and equal scores by id descending (as ZREVRANGE orders a union)', async () => {
    const { fetch } = sortedSets([
      [
        { id: 'a', score: 5 },
        { id: 'c', score: 5 },
      ],
      [
        { id: 'b', score: 5 },
        { id: 'z', score: 1 },
        { id: 'y', score: 9 },
      ],
    ]);
    expect(await newestAcross(2, 10, fetch)).toEqual(['y', 'c', 'b', 'a', 'z']);
    expect(await newestAcross(2, 2, fetch)).toEqual(['y', 'c']);
  });

  it('lists a member held by several sets once', async () => {
    const shared = { id: 'shared', score: 7 };
    const { fetch } = sortedSets([
      [shared, { id: 'x', score: 1 }],
      [shared],
      [shared, { id: 'w', score: 3 }],
    ]);
    expect(await newestAcross(3, 10, fetch)).toEqual(['shared', 'w', 'x']);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('gives the head of the union for random sets (seed %i)', async (seed) => {
    const rand = lcg(seed);
    const setCount = 1 + Math.floor(rand() * 40);
    const sets: ScoredMember[][] = Array.from({ length: setCount }, () => []);
    for (let i = 0; i < 600; i++) {
      // Scores collide often (ties by id), and some members sit in two sets.
      const member = { id: `t${Math.floor(rand() * 1e6)}`, score: Math.floor(rand() * 200) };
      sets[Math.floor(rand() * setCount)].push(member);
      if (rand() < 0.1) sets[Math.floor(rand() * setCount)].push(member);
    }
    // Unfiltered, and within a filter that keeps about a third of the members.
    for (const keep of [undefined, (id: string) => Number(id.slice(1)) % 3 === 0]) {
      const { fetch, union } = sortedSets(sets, keep);
      for (const limit of [1, 7, 50, 1000]) {
        expect(await newestAcross(setCount, limit, fetch)).toEqual(
          union()
            .slice(0, limit)
            .map((m) => m.id),
        );
      }
    }
  });

  it('reads the page from the heads when the newest members sit in one set', async () => {
    const crowded = Array.from({ length: 500 }, (_, i) => ({ id: `new${i}`, score: 1000 + i }));
    const others = Array.from({ length: 127 }, (_, s) =>
      Array.from({ length: 400 }, (_, i) => ({ id: `old${s}-${i}`, score: i })),
    );
    const { fetch, stats, union } = sortedSets([...others, crowded]);
    const page = await newestAcross(128, 100, fetch);
    expect(page).toEqual(
      union()
        .slice(0, 100)
        .map((m) => m.id),
    );
    // Of 51,300 members, the first round's two per set and the crowded set's head.
    expect(stats.read).toBeLessThan(1000);
    expect(stats.rounds).toBeLessThanOrEqual(7);
  });

  it('reads on past members the filter excludes', async () => {
    const { fetch } = sortedSets(
      [Array.from({ length: 50 }, (_, i) => ({ id: `a${i}`, score: 100 + i })), [{ id: 'b', score: 1 }]],
      (id) => id === 'a3' || id === 'b',
    );
    expect(await newestAcross(2, 5, fetch)).toEqual(['a3', 'b']);
  });

  it('reads nothing for an empty page', async () => {
    const { fetch, stats } = sortedSets([[{ id: 'a', score: 1 }]]);
    expect(await newestAcross(1, 0, fetch)).toEqual([]);
    expect(stats.rounds).toBe(0);
  });
});
