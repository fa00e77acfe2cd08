import { ValidationError } from '../common/errors';
import { resolveIdempotencyKey, scopedKeyHash } from './idempotency-key';

function fieldsOf(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).fields;
  }
  throw new Error('expected a ValidationError');
}

describe('resolveIdempotencyKey', () => {
  it('returns null when no source carries a key', () => {
    expect(resolveIdempotencyKey({})).toBeNull();
    expect(resolveIdempotencyKey({ argument: null })).toBeNull();
  });

  it('takes the key from whichever source has it', () => {
    expect(resolveIdempotencyKey({ header: 'k-1' })).toBe('k-1');
    expect(resolveIdempotencyKey({ xHeader: 'k-2' })).toBe('k-2');
    expect(resolveIdempotencyKey({ argument: 'k-3' })).toBe('k-3');
  });

  it('accepts the same key given in several places', () => {
    expect(resolveIdempotencyKey({ header: 'abc', xHeader: 'abc', argument: 'abc' })).toBe('abc');
    expect(resolveIdempotencyKey({ header: ['abc', 'abc'] })).toBe('abc');
  });

  it('unquotes the structured-field string form of the draft', () => {
    expect(resolveIdempotencyKey({ header: '"8e03978e-40d5"' })).toBe('8e03978e-40d5');
    expect(resolveIdempotencyKey({ header: '"a\\"b\\\\c"', argument: 'a"b\\c' })).toBe('a"b\\c');
    expect(fieldsOf(() => resolveIdempotencyKey({ header: '"unterminated' }))).toHaveProperty(
      'Idempotency-Key',
    );
  });

  it('refuses a header and argument that disagree, naming the argument', () => {
    const fields = fieldsOf(() => resolveIdempotencyKey({ header: 'one', argument: 'two' }));
    expect(fields).toHaveProperty('idempotency_key');
    expect(fields.idempotency_key).toMatch(/differs from Idempotency-Key/);
  });

  it('refuses the two header forms when they disagree', () => {
    expect(fieldsOf(() => resolveIdempotencyKey({ header: 'one', xHeader: 'two' }))).toHaveProperty(
      'X-Idempotency-Key',
    );
  });

  it('refuses a header repeated with different values', () => {
    const fields = fieldsOf(() => resolveIdempotencyKey({ xHeader: ['one', 'two'] }));
    expect(fields['X-Idempotency-Key']).toMatch(/repeated/);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['over 255 characters', 'k'.repeat(256)],
    ['CR/LF', 'abc\r\nX-Injected: 1'],
    ['a line feed', 'abc\n'],
    ['a control character', 'ab\u0007c'],
    ['a tab', 'ab\tc'],
    ['a NUL', 'ab\0c'],
    ['non-ASCII', 'clé'],
  ])('refuses a key that is %s, naming the field', (_label, key) => {
    expect(fieldsOf(() => resolveIdempotencyKey({ argument: key }))).toHaveProperty('idempotency_key');
    expect(fieldsOf(() => resolveIdempotencyKey({ header: key }))).toHaveProperty('Idempotency-Key');
  });

  it('accepts exactly 255 printable characters', () => {
    const key = '~'.repeat(254) + 'x';
    expect(resolveIdempotencyKey({ argument: key })).toBe(key);
  });

  it('never echoes the raw key in the error message', () => {
    const secretish = 'tenant-secret\u0001';
    try {
      resolveIdempotencyKey({ argument: secretish });
    } catch (err) {
      expect((err as Error).message).not.toContain('tenant-secret');
    }
  });
});

describe('scopedKeyHash', () => {
  it('is a hex SHA-256 that does not contain the raw key', () => {
    const h = scopedKeyHash('client-a', 'my-key');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).toBe(scopedKeyHash('client-a', 'my-key'));
  });

  it('keeps two clients with equal keys apart', () => {
    expect(scopedKeyHash('client-a', 'k')).not.toBe(scopedKeyHash('client-b', 'k'));
  });

  it('cannot be collided by shifting characters between client id and key', () => {
    expect(scopedKeyHash('ab', 'c')).not.toBe(scopedKeyHash('a', 'bc'));
  });
});
