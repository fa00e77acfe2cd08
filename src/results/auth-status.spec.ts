import {
  CREDENTIAL_PLUGINS,
  HostCredentialEvidence,
  parseCredentialedChecks,
  summariseAuthentication,
} from './auth-status';

const SCAN_INFO = (checks: string) =>
  `Nessus version : 10.8.3\nParanoia level : 2\nCredentialed checks : ${checks}\nSafe checks : yes\n`;

function hostStatus(items: Array<[number, string?]>, credentialedScan: boolean | null = null) {
  const e = new HostCredentialEvidence();
  for (const [id, out] of items) e.observe(id, out ?? null);
  e.credentialedScanProperty = credentialedScan;
  return e.status();
}

describe('authentication status', () => {
  it('reads the word after "Credentialed checks :" in plugin 19506', () => {
    expect(parseCredentialedChecks(SCAN_INFO("yes, as 'root' via ssh"))).toBe('yes');
    expect(parseCredentialedChecks(SCAN_INFO('partial'))).toBe('partial');
    expect(parseCredentialedChecks(SCAN_INFO('no'))).toBe('no');
    expect(parseCredentialedChecks('Nessus version : 10.8.3')).toBeNull();
  });

  it('prefers a credential failure over 19506 claiming yes', () => {
    expect(hostStatus([[19506, SCAN_INFO('yes')], [CREDENTIAL_PLUGINS.failedCredentials]], true)).toBe(
      'failed',
    );
  });

  it('is success on valid credentials or no credential issues', () => {
    expect(hostStatus([[CREDENTIAL_PLUGINS.validCredentials]])).toBe('success');
    expect(hostStatus([[CREDENTIAL_PLUGINS.noCredentialIssues], [19506, SCAN_INFO('no')]])).toBe('success');
  });

  it('is partial on insufficient privilege, intermittent failure, or one protocol failing while another works', () => {
    expect(
      hostStatus([[CREDENTIAL_PLUGINS.validCredentials], [CREDENTIAL_PLUGINS.insufficientPrivilege]]),
    ).toBe('partial');
    expect(hostStatus([[CREDENTIAL_PLUGINS.intermittentFailure]])).toBe('partial');
    expect(hostStatus([[CREDENTIAL_PLUGINS.validCredentials], [CREDENTIAL_PLUGINS.failedCredentials]])).toBe(
      'partial',
    );
  });

  it('is failed when only "no credentials provided" is reported', () => {
    expect(hostStatus([[CREDENTIAL_PLUGINS.noCredentialsProvided], [19506, SCAN_INFO('yes')]])).toBe(
      'failed',
    );
  });

  it('falls back to 19506, then to the Credentialed_Scan property, then to failed', () => {
    expect(hostStatus([[19506, SCAN_INFO("yes, as 'u' via ssh")]])).toBe('success');
    expect(hostStatus([[19506, SCAN_INFO('partial')]])).toBe('partial');
    expect(hostStatus([[19506, SCAN_INFO('no')]], true)).toBe('failed');
    expect(hostStatus([], true)).toBe('success');
    expect(hostStatus([], false)).toBe('failed');
    expect(hostStatus([])).toBe('failed');
  });

  it('summarises hosts: all success, all failed, otherwise partial', () => {
    expect(summariseAuthentication(['success', 'success'])).toBe('success');
    expect(summariseAuthentication(['failed', 'failed'])).toBe('failed');
    expect(summariseAuthentication(['success', 'failed'])).toBe('partial');
    expect(summariseAuthentication(['partial', 'partial'])).toBe('partial');
    expect(summariseAuthentication([])).toBe('failed');
  });
});
