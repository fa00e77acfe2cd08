import { jsonNestedDeeperThan, verifyJsonDepth } from './json-depth';

describe('jsonNestedDeeperThan', () => {
  const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('counts array and object nesting against the limit', () => {
    expect(jsonNestedDeeperThan(nested(3), 3)).toBe(false);
    expect(jsonNestedDeeperThan(nested(4), 3)).toBe(true);
    expect(jsonNestedDeeperThan('{"a":{"b":[{"c":1}]}}', 4)).toBe(false);
    expect(jsonNestedDeeperThan('{"a":{"b":[{"c":[1]}]}}', 4)).toBe(true);
  });

  it('measures depth, not the number of brackets', () => {
    expect(jsonNestedDeeperThan(`[${'[],'.repeat(10_000)}[]]`, 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestedDeeperThan(JSON.stringify({ s: '[[[[{{{{' }), 1)).toBe(false);
    expect(jsonNestedDeeperThan(JSON.stringify({ s: 'say \\"[[[[' }), 1)).toBe(false);
    expect(jsonNestedDeeperThan(JSON.stringify(['\\', [[1]]]), 2)).toBe(true);
  });

  it('reads UTF-8 bytes and decoded text alike', () => {
    const text = JSON.stringify({ k: '日本[語', v: [[['é']]] });
    expect(jsonNestedDeeperThan(Buffer.from(text), 4)).toBe(false);
    expect(jsonNestedDeeperThan(Buffer.from(text), 3)).toBe(true);
    expect(jsonNestedDeeperThan(text, 3)).toBe(true);
  });
});

describe('verifyJsonDepth', () => {
  it('throws a 400 body-parser style error for a too deep body, in any UTF charset', () => {
    const verify = verifyJsonDepth(8);
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(() => verify({} as never, {}, Buffer.from(deep), 'utf-8')).toThrow(
      expect.objectContaining({
        status: 400,
        type: 'entity.too.deep',
        message: expect.stringMatching(/deeper than 8/),
      }),
    );
    expect(() => verify({} as never, {}, Buffer.from(deep, 'utf16le'), 'utf-16le')).toThrow(/deeper than 8/);
    expect(() => verify({} as never, {}, Buffer.from('{"a":[1,2]}'), 'utf-8')).not.toThrow();
  });
});
