import { ValidationError } from '../../common/errors';
import { buildCreateScanPayload, buildSshCredential, type SshCredentials } from './nessus-scan-settings';

const BASIC = '731a8e52-3ea6-a291-ec0a-d2ff0619c19d7bd788d6be818b65';

describe('buildCreateScanPayload', () => {
  it('builds an on-demand untrusted scan in My Scans on the local scanner', () => {
    const p = buildCreateScanPayload(BASIC, {
      name: 'orch-1',
      targets: [' 192.0.2.10', '192.0.2.0/28 ', ''],
    });
    expect(p).toEqual({
      uuid: BASIC,
      settings: {
        name: 'orch-1',
        description: '',
        text_targets: '192.0.2.10,192.0.2.0/28',
        enabled: false,
        launch: 'ON_DEMAND',
        launch_now: false,
        folder_id: 3,
        scanner_id: 1,
      },
    });
    expect(p).not.toHaveProperty('credentials');
  });

  it('puts SSH credentials under credentials.add.Host.SSH', () => {
    const p = buildCreateScanPayload(BASIC, {
      name: 'orch-2',
      description: 'weekly',
      targets: ['web01.example.test'],
      credentials: { username: 'scan', password: 'pw', elevatePrivilegesWith: 'Nothing' },
    });
    expect(p.settings.description).toBe('weekly');
    expect(p.credentials).toEqual({
      add: {
        Host: {
          SSH: [
            {
              auth_method: 'password',
              username: 'scan',
              password: 'pw',
              elevate_privileges_with: 'Nothing',
              custom_password_prompt: '',
              target_priority_list: '',
            },
          ],
        },
      },
      edit: {},
      delete: [],
    });
  });

  it('refuses a scan without name or targets, naming both fields', () => {
    try {
      buildCreateScanPayload(BASIC, { name: ' ', targets: [' '] });
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).fields).toEqual({ name: 'is required', targets: expect.any(String) });
    }
  });
});

describe('buildSshCredential escalation (NESSUS_API.md §4)', () => {
  const base: SshCredentials = { username: 'scan', password: 'pw', elevatePrivilegesWith: 'Nothing' };

  it('adds no escalation fields for Nothing', () => {
    const e = buildSshCredential(base);
    expect(e).not.toHaveProperty('escalation_account');
    expect(e).not.toHaveProperty('escalation_password');
  });

  it('sudo: escalates to root with the login password unless told otherwise', () => {
    expect(buildSshCredential({ ...base, elevatePrivilegesWith: 'sudo' })).toMatchObject({
      elevate_privileges_with: 'sudo',
      escalation_account: 'root',
      escalation_password: 'pw',
      bin_directory: '',
    });
    expect(
      buildSshCredential({
        ...base,
        elevatePrivilegesWith: 'sudo',
        escalationAccount: 'admin',
        escalationPassword: 'sp',
      }),
    ).toMatchObject({ escalation_account: 'admin', escalation_password: 'sp' });
  });

  it('su: needs the target account password', () => {
    expect(
      buildSshCredential({ ...base, elevatePrivilegesWith: 'su', escalationPassword: 'rootpw' }),
    ).toMatchObject({
      elevate_privileges_with: 'su',
      escalation_account: 'root',
      escalation_password: 'rootpw',
    });
    expect(() => buildSshCredential({ ...base, elevatePrivilegesWith: 'su' })).toThrow(/escalation_password/);
  });

  it('uses the uploaded key file for key authentication', () => {
    const e = buildSshCredential(
      {
        username: 'scan',
        privateKey: '-----BEGIN KEY-----',
        elevatePrivilegesWith: 'sudo',
        escalationPassword: 's',
      },
      'ssh_key',
    );
    expect(e).toMatchObject({ auth_method: 'public key', private_key: 'ssh_key', escalation_password: 's' });
    expect(JSON.stringify(e)).not.toContain('BEGIN KEY');
  });

  it('refuses missing secrets and unknown escalation methods', () => {
    expect(() => buildSshCredential({ username: 'scan', elevatePrivilegesWith: 'Nothing' })).toThrow(
      ValidationError,
    );
    expect(() => buildSshCredential({ ...base, elevatePrivilegesWith: 'pbrun' as never })).toThrow(
      /elevate_privileges_with/,
    );
    expect(() =>
      buildSshCredential({ username: 'scan', privateKey: 'k', elevatePrivilegesWith: 'sudo' }, 'f'),
    ).toThrow(/escalation_password/);
    expect(() =>
      buildSshCredential({ username: 'scan', privateKey: 'k', elevatePrivilegesWith: 'Nothing' }),
    ).toThrow(/uploaded/);
  });
});
