import { expandTargets } from './targets';

describe('expandTargets', () => {
  it('expands CIDRs without network and broadcast, ranges and names', () => {
    expect(expandTargets('192.0.2.0/30, 198.51.100.7-198.51.100.8\nhost.example.test', 100)).toEqual([
      '192.0.2.1',
      '192.0.2.2',
      '198.51.100.7',
      '198.51.100.8',
      'host.example.test',
    ]);
    expect(expandTargets('192.0.2.9/32', 10)).toEqual(['192.0.2.9']);
  });

  it('stops at the limit', () => {
    expect(expandTargets('10.0.0.0/8', 3)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });
});
