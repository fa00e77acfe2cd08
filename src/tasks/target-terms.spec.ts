import fc from 'fast-check';
import { isTargetQuery, planTargetQuery, targetTerms } from './target-terms';

/** Evaluates a plan against one task's terms the way the Redis index does (term union + lex lookups). */
function matches(taskTargets: string[], query: string): boolean {
  const terms = targetTerms(taskTargets);
  const plan = planTargetQuery(query);
  if (plan.terms.some((t) => terms.includes(t))) return true;
  return plan.lexRanges.some((r) =>
    terms.some((t) => {
      const [kind, family, , prefix] = t.split(':');
      const id = t.slice(2);
      return (
        kind === r.kind &&
        family === String(r.family) &&
        prefix === String(r.prefix) &&
        `[${id}` >= r.min &&
        `[${id}` <= r.max
      );
    }),
  );
}

function v4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

describe('CIDR-aware target terms', () => {
  it.each([
    ['10.0.0.0/24', true],
    ['10.0.0.5', true],
    ['10.0.0.1-10.0.0.9', true],
    ['10.0.0.1-9', true],
    ['10.0.0.0/8', true],
    ['0.0.0.0/0', true],
    ['10.0.1.0/24', false],
    ['10.0.0.6', false],
    ['10.0.0.50', false],
    ['10.0.0.6-10.0.0.9', false],
  ])('query 10.0.0.5 vs task target %s → %s', (target, expected) => {
    expect(matches([target], '10.0.0.5')).toBe(expected);
  });

  it.each([
    ['10.0.0.5', true],
    ['10.0.0.128/25', true],
    ['10.0.0.0/16', true],
    ['9.255.255.250-10.0.0.3', true],
    ['10.0.1.5', false],
    ['9.0.0.0/8', false],
  ])('query 10.0.0.0/24 vs task target %s → %s', (target, expected) => {
    expect(matches([target], '10.0.0.0/24')).toBe(expected);
  });

  it('matches range queries by overlap', () => {
    expect(matches(['10.0.1.0/24'], '10.0.0.250-10.0.1.5')).toBe(true);
    expect(matches(['10.0.0.255'], '10.0.0.250-10.0.1.5')).toBe(true);
    expect(matches(['10.0.2.0/24'], '10.0.0.250-10.0.1.5')).toBe(false);
  });

  it('handles IPv6 and IPv4-mapped addresses', () => {
    expect(matches(['2001:db8::/64'], '2001:db8::5')).toBe(true);
    expect(matches(['2001:db8:1::/64'], '2001:db8::5')).toBe(false);
    expect(matches(['2001:db8::5'], '2001:db8::/32')).toBe(true);
    expect(matches(['10.0.0.0/24'], '::ffff:10.0.0.5')).toBe(true);
    expect(matches(['10.0.0.5'], '::ffff:10.0.0.0/120')).toBe(false);
  });

  it('matches host names and the hosts under a domain, case-insensitively', () => {
    expect(matches(['scan.Example.com'], 'example.com')).toBe(true);
    expect(matches(['example.com.'], 'EXAMPLE.COM')).toBe(true);
    expect(matches(['badexample.com'], 'example.com')).toBe(false);
    expect(matches(['example.com'], 'scan.example.com')).toBe(false);
  });

  it('tells a filter it can match from one it refuses', () => {
    for (const ok of [
      '10.0.0.5',
      ' 10.0.0.0/24 ',
      '10.0.0.1-10.0.0.9',
      '2001:db8::/64',
      'Web.Example.com.',
      'db1',
    ])
      expect([ok, isTargetQuery(ok)]).toEqual([ok, true]);
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0.9-10.0.0.1',
      '10.0.0',
      '2001:db8::/129',
      'not a target!',
      'a..b',
      '',
    ])
      expect([bad, isTargetQuery(bad)]).toEqual([bad, false]);
  });

  it('matches nothing for a query that is neither an address nor a host name', () => {
    expect(planTargetQuery('not a target!')).toEqual({ terms: [], lexRanges: [] });
    expect(planTargetQuery('10.0.0.0/99')).toEqual({ terms: [], lexRanges: [] });
    expect(matches(['10.0.0.0/24'], '10.0.0')).toBe(false);
  });

  it('agrees with plain interval arithmetic for random IPv4 ranges and queries', () => {
    const addr = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    fc.assert(
      fc.property(
        addr,
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: -6000, max: 6000 }),
        (a, len, offset) => {
          const last = Math.min(a + len, 2 ** 32 - 1);
          const q = Math.min(Math.max(a + offset, 0), 2 ** 32 - 1);
          expect(matches([`${v4(a)}-${v4(last)}`], v4(q))).toBe(q >= a && q <= last);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('agrees with interval overlap for random CIDR queries against random ranges', () => {
    const addr = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    fc.assert(
      fc.property(
        addr,
        fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 2 ** 26 })),
        addr,
        fc.integer({ min: 0, max: 32 }),
        (a, len, q, prefix) => {
          const last = Math.min(a + len, 2 ** 32 - 1);
          const size = 2 ** (32 - prefix);
          const qStart = Math.floor(q / size) * size;
          const qEnd = qStart + size - 1;
          const overlap = a <= qEnd && qStart <= last;
          expect(matches([`${v4(a)}-${v4(last)}`], `${v4(qStart)}/${prefix}`)).toBe(overlap);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds addresses deep inside wide queries through the bucket levels', () => {
    expect(matches(['10.1.2.3'], '10.0.0.0/8')).toBe(true);
    expect(matches(['10.15.255.255'], '10.0.0.0/12')).toBe(true);
    expect(matches(['10.16.0.0'], '10.0.0.0/12')).toBe(false);
    expect(matches(['10.3.0.0/20'], '10.0.0.0/14')).toBe(true);
    expect(matches(['10.4.0.0/20'], '10.0.0.0/14')).toBe(false);
    expect(matches(['192.0.2.77'], '192.0.2.64/27')).toBe(true);
    expect(matches(['2001:db8:5::1'], '2001:db8::/20')).toBe(true);
    expect(matches(['2001:db9::1'], '2001:db8::/32')).toBe(false);
    expect(matches(['2001:db8::/33'], '::/0')).toBe(true);
  });

  it('plans a query on a bucket level as one bucket term, with no lookups', () => {
    const plan = planTargetQuery('10.0.0.0/8');
    expect(plan.lexRanges).toEqual([]);
    expect(plan.terms).toContain('b:4:0a000000:8');
    expect(plan.terms).toHaveLength(10);
  });
});
