import { isAllowedHost, isAllowedOrigin } from './origin.guard';

describe('isAllowedOrigin', () => {
  const allowed = ['https://agent.example.com', 'http://tools.internal:8080/'];

  it('allows requests without an Origin (non-browser clients)', () => {
    expect(isAllowedOrigin(undefined, [])).toBe(true);
  });

  it.each([
    'http://localhost',
    'http://localhost:6274',
    'https://LOCALHOST:3000',
    'http://app.localhost:5173',
    'http://127.0.0.1:3000',
    'http://127.1.2.3',
    'http://[::1]:3000',
  ])('allows the loopback origin %s', (origin) => {
    expect(isAllowedOrigin(origin, [])).toBe(true);
  });

  it('allows origins listed in MCP_ALLOWED_ORIGINS, matching scheme, host and port', () => {
    expect(isAllowedOrigin('https://agent.example.com', allowed)).toBe(true);
    expect(isAllowedOrigin('http://tools.internal:8080', allowed)).toBe(true);
    expect(isAllowedOrigin('http://agent.example.com', allowed)).toBe(false);
    expect(isAllowedOrigin('https://agent.example.com:8443', allowed)).toBe(false);
    expect(isAllowedOrigin('http://tools.internal', allowed)).toBe(false);
  });

  it.each([
    'https://evil.example',
    'null',
    '',
    'not a url',
    'file:///etc/passwd',
    'http://localhost.evil.example',
    'http://127.0.0.1.nip.io',
    'http://[::ffff:10.0.0.1]',
  ])('refuses %j', (origin) => {
    expect(isAllowedOrigin(origin, allowed)).toBe(false);
  });

  it('refuses repeated Origin headers', () => {
    expect(isAllowedOrigin(['http://localhost', 'http://localhost'], [])).toBe(false);
  });
});

describe('isAllowedHost', () => {
  it.each(['localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'localhost', 'agent.example.com'])(
    'allows %s',
    (host) => expect(isAllowedHost(host, ['https://agent.example.com'])).toBe(true),
  );

  it.each([undefined, '', 'evil.example:3000', 'user@localhost', 'localhost/x', '169.254.169.254'])(
    'refuses %j',
    (host) => expect(isAllowedHost(host, ['https://agent.example.com'])).toBe(false),
  );
});
