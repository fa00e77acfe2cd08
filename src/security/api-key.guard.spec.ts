import { createHash } from 'node:crypto';
import { identifyClient, parseApiKeys } from './api-key.guard';

describe('parseApiKeys', () => {
  it('names keys by their prefix, or by a hash prefix that is not the key', () => {
    const [alice, anon] = parseApiKeys(['alice:k1', 'k2']);
    expect(alice.clientId).toBe('alice');
    const expected = `key-${createHash('sha256').update('k2').digest('hex').slice(0, 12)}`;
    expect(anon.clientId).toBe(expected);
    expect(anon.clientId).not.toContain('k2');
  });

  it('keeps a token that itself contains colons', () => {
    const keys = parseApiKeys(['ci:abc:def', 'x y:z']);
    expect(keys[0].clientId).toBe('ci');
    expect(identifyClient('Bearer abc:def', keys)).toEqual({ clientId: 'ci' });
    expect(identifyClient('Bearer x y:z', keys)).toBeNull();
  });

  it('refuses a named entry without a token', () => {
    expect(() => parseApiKeys(['bob:'])).toThrow('API_KEYS: the entry named bob has no token');
  });
});

describe('identifyClient', () => {
  const keys = parseApiKeys(['alice:k1', 'k2', 'bob:k3']);

  it('identifies each configured key', () => {
    expect(identifyClient('Bearer k1', keys)).toEqual({ clientId: 'alice' });
    expect(identifyClient('bearer   k3 ', keys)).toEqual({ clientId: 'bob' });
    expect(identifyClient('Bearer k2', keys)?.clientId).toMatch(/^key-[0-9a-f]{12}$/);
  });

  it.each([
    [undefined],
    [''],
    ['k1'],
    ['Basic k1'],
    ['Bearer'],
    ['Bearer k1x'],
    ['Bearer K1'],
    ['Bearer k1 k2'],
    ['Bearer alice:k1'],
  ])('refuses %j', (header) => {
    expect(identifyClient(header, keys)).toBeNull();
  });

  it('refuses repeated Authorization headers and an empty key list', () => {
    expect(identifyClient(['Bearer k1', 'Bearer k1'], keys)).toBeNull();
    expect(identifyClient('Bearer k1', [])).toBeNull();
  });
});
