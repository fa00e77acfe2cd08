import { httpError, transportError } from './nessus-errors';

describe('Nessus error classification', () => {
  it.each([
    [401, 'auth', false],
    [403, 'auth', false],
    [404, 'not_found', false],
    [409, 'conflict', false],
    [412, 'api_unavailable', false],
    [400, 'bad_response', false],
    [429, 'server', true],
    [500, 'server', true],
    [503, 'server', true],
  ])('HTTP %i is %s (transient %s)', (status, kind, transient) => {
    const e = httpError('scanner1', 'launch scan 12', status, 'Failed to launch scan.');
    expect(e).toMatchObject({ kind, transient, httpStatus: status, instanceId: 'scanner1' });
    expect(e.message).toMatch(/^scanner1: launch scan 12 failed: (authentication failed \()?HTTP \d{3}/);
  });

  it('tells an operator where to look when a scanner refuses its credentials', () => {
    expect(httpError('scanner1', 'login', 401, 'Invalid Credentials').message).toBe(
      'scanner1: login failed: authentication failed (HTTP 401 "Invalid Credentials"); check its credentials in scanners.yaml',
    );
  });

  it.each([
    ['ECONNREFUSED', 'unreachable', true],
    ['ECONNRESET', 'unreachable', true],
    ['ENOTFOUND', 'unreachable', true],
    ['ETIMEDOUT', 'timeout', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', true],
    ['UND_ERR_BODY_TIMEOUT', 'timeout', true],
    ['UND_ERR_SOCKET', 'unreachable', true],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'unreachable', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'unreachable', false],
  ])('transport code %s is %s (transient %s)', (code, kind, transient) => {
    expect(transportError('scanner2', 'list scans', code, 'x')).toMatchObject({ kind, transient });
  });
});
