import { parseScannersFile } from '../config/scanners-file';
import { buildSnapshot, displayUrl, sameConnection } from './registry-snapshot';

const config = parseScannersFile(
  `lan:
  - instance_id: a
    url: https://a:8834
    username: u
    password: p
  - instance_id: b
    url: https://b:8834
    access_key: k
    secret_key: s
    enabled: false
dmz:
  - instance_id: c
    url: http://c:8834
    username: u
    password: p
    max_concurrent_scans: 4
`,
  { env: {}, defaultMaxConcurrentScans: 2 },
).config;

describe('buildSnapshot', () => {
  const snap = buildSnapshot(config, 3);

  it('keeps pools in file order and makes the first the default', () => {
    expect(snap.pools).toEqual(['lan', 'dmz']);
    expect(snap.defaultPool).toBe('lan');
    expect(snap.version).toBe(3);
  });

  it('finds entries by id and by pool, disabled ones included', () => {
    expect(snap.byId('c')).toMatchObject({ pool: 'dmz', maxConcurrentScans: 4 });
    expect(snap.byId('nope')).toBeUndefined();
    expect(snap.inPool('lan').map((s) => s.instanceId)).toEqual(['a', 'b']);
    expect(snap.inPool('nope')).toEqual([]);
    expect(snap.hasPool('dmz')).toBe(true);
    expect(snap.hasPool('nope')).toBe(false);
  });

  it('cannot be changed by its holders, nor by later changes to the parsed config', () => {
    expect(() => (snap.scanners as unknown[]).push({})).toThrow();
    expect(() => {
      (snap.byId('a') as { maxConcurrentScans: number }).maxConcurrentScans = 99;
    }).toThrow();
    config.pools[0].scanners[0].maxConcurrentScans = 50;
    expect(snap.byId('a')!.maxConcurrentScans).toBe(2);
    config.pools[0].scanners[0].maxConcurrentScans = 2;
  });

  it('refuses a config without pools', () => {
    expect(() => buildSnapshot({ pools: [] })).toThrow(/at least one pool/);
  });
});

describe('displayUrl', () => {
  it('strips credentials, query and fragment', () => {
    expect(displayUrl('https://admin:s3cret@nessus.example:8834/?token=x#f')).toBe(
      'https://nessus.example:8834',
    );
    expect(displayUrl('https://nessus.example:8834/base')).toBe('https://nessus.example:8834/base');
  });
});

describe('sameConnection', () => {
  it('tells apart entries whose client would differ, and ignores capacity', () => {
    const a = buildSnapshot(config).byId('a')!;
    expect(sameConnection(a, { ...a, maxConcurrentScans: 9, name: 'x' })).toBe(true);
    expect(sameConnection(a, { ...a, password: 'other' })).toBe(false);
    expect(sameConnection(a, { ...a, tlsVerify: false })).toBe(false);
  });
});
