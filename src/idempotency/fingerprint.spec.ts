import { fingerprintSubmission, normalizeTargets, SubmissionFingerprintInput } from './fingerprint';

const defaults = { scanner_pool: 'nessus' };
const base: SubmissionFingerprintInput = { kind: 'untrusted', targets: '10.0.0.1, 10.0.0.2', name: 'weekly' };
const fp = (over: Partial<SubmissionFingerprintInput> = {}) =>
  fingerprintSubmission({ ...base, ...over }, defaults);

describe('normalizeTargets', () => {
  it('splits on commas and white space, trims, lower-cases, de-duplicates and sorts', () => {
    expect(normalizeTargets(' Host-B.example.com,\t10.0.0.2  10.0.0.1,,host-b.EXAMPLE.com\n')).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      'host-b.example.com',
    ]);
  });

  it('accepts a list whose items themselves hold several targets', () => {
    expect(normalizeTargets(['10.0.0.2', '10.0.0.1,10.0.0.3'])).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('drops host-length prefixes and keeps real networks', () => {
    expect(normalizeTargets('10.0.0.1/32, 10.0.0.1, 10.0.0.0/24, 2001:db8::1/128')).toEqual([
      '10.0.0.0/24',
      '10.0.0.1',
      '2001:db8::1',
    ]);
  });

  it('writes IPv6 in one compressed spelling', () => {
    expect(normalizeTargets('2001:DB8:0:0:0:0:0:1 2001:db8::1 2001:0db8::0001/64')).toEqual([
      '2001:db8::1',
      '2001:db8::1/64',
    ]);
  });

  it('leaves ambiguous IPv4 spellings as written instead of guessing', () => {
    expect(normalizeTargets('010.0.0.1')).toEqual(['010.0.0.1']);
  });

  it('returns nothing for an empty or blank input', () => {
    expect(normalizeTargets(' , \n')).toEqual([]);
  });
});

describe('fingerprintSubmission', () => {
  it('is a hex SHA-256', () => {
    expect(fp()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is equal for targets that only differ in order, duplicates, white space, case or /32', () => {
    const reference = fp({ targets: '10.0.0.1,10.0.0.2,scan.example.com' });
    expect(fp({ targets: ' SCAN.example.com  10.0.0.2/32\n10.0.0.1, 10.0.0.1 ' })).toBe(reference);
    expect(fp({ targets: ['scan.example.com', '10.0.0.2', '10.0.0.1'] })).toBe(reference);
  });

  it('is equal with defaults given explicitly or omitted', () => {
    expect(
      fp({
        description: '',
        schema_profile: 'brief',
        scanner_pool: 'nessus',
        scanner_instance: null,
        scan_type: 'untrusted',
        elevate_privileges_with: 'Nothing',
      }),
    ).toBe(fp());
    expect(fp({ description: null, scanner_pool: null })).toBe(fp());
  });

  it('does not depend on the order of the fields in the request', () => {
    const reordered = {
      name: 'weekly',
      targets: '10.0.0.1, 10.0.0.2',
      kind: 'untrusted',
    } as SubmissionFingerprintInput;
    expect(fingerprintSubmission(reordered, defaults)).toBe(fp());
  });

  it.each<[string, Partial<SubmissionFingerprintInput>]>([
    ['targets', { targets: '10.0.0.1, 10.0.0.3' }],
    ['a network instead of a host', { targets: '10.0.0.1/31, 10.0.0.2' }],
    ['name', { name: 'weekly-2' }],
    ['description', { description: 'other' }],
    ['schema profile', { schema_profile: 'full' }],
    ['scanner pool', { scanner_pool: 'dmz' }],
    ['scanner instance', { scanner_instance: 'scanner-2' }],
    ['kind', { kind: 'authenticated', scan_type: 'untrusted' }],
  ])('differs when the %s changes', (_label, change) => {
    expect(fp(change)).not.toBe(fp());
  });

  it('differs when the default pool differs (an omitted pool means the default)', () => {
    expect(fingerprintSubmission(base, { scanner_pool: 'other' })).not.toBe(fp());
  });

  describe('credentials', () => {
    const auth: Partial<SubmissionFingerprintInput> = {
      kind: 'authenticated',
      scan_type: 'authenticated',
      ssh_username: 'scan',
      ssh_password: 'hunter2-secret',
    };

    it.each<[string, Partial<SubmissionFingerprintInput>]>([
      ['ssh_username', { ssh_username: 'root' }],
      ['ssh_password', { ssh_password: 'hunter3-secret' }],
      ['ssh_private_key instead of password', { ssh_password: undefined, ssh_private_key: 'hunter2-secret' }],
      ['scan_type', { scan_type: 'authenticated_privileged' }],
      ['elevate_privileges_with', { elevate_privileges_with: 'sudo' }],
      ['escalation_account', { escalation_account: 'root' }],
      ['escalation_password', { escalation_password: 'x' }],
    ])('differ when %s changes', (_label, change) => {
      expect(fp({ ...auth, ...change })).not.toBe(fp(auth));
    });

    it('are equal for the same credentials', () => {
      expect(fp({ ...auth })).toBe(fp(auth));
    });
  });
});
