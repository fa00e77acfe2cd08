import { Writable } from 'node:stream';
import pino from 'pino';
import { isSecretKey, REDACT_PATHS, REDACTED, redactSecrets, redactText } from './redaction';

function logLine(obj: object, msg = 'event'): string {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  pino({ redact: { paths: REDACT_PATHS, censor: REDACTED } }, sink).info(obj, msg);
  return lines.join('');
}

describe('REDACT_PATHS with pino', () => {
  it('is accepted by pino and hides credential headers of requests and responses', () => {
    const line = logLine({
      req: {
        method: 'POST',
        url: '/mcp',
        headers: {
          authorization: 'Bearer tok-abc123',
          cookie: 'sid=cookie-secret',
          'x-apikeys': 'accessKey=AK1; secretKey=SK1',
          'x-api-key': 'key-xyz',
          host: 'localhost',
        },
      },
      res: { statusCode: 200, headers: { 'set-cookie': 'sid=cookie-secret2' } },
    });
    for (const secret of ['tok-abc123', 'cookie-secret', 'AK1', 'SK1', 'key-xyz', 'cookie-secret2']) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line).req.headers.host).toBe('localhost');
  });

  it('hides scan and scanner credentials up to three levels deep', () => {
    const line = logLine({
      password: 'p0',
      scanner: { access_key: 'AK2', secret_key: 'SK2', url: 'https://nessus:8834' },
      request: {
        credentials: { ssh_password: 'p1' },
        scan: { ssh_private_key: 'PEM-KEY', escalation_password: 'p2' },
      },
    });
    for (const secret of ['p0', 'AK2', 'SK2', 'p1', 'PEM-KEY', 'p2'])
      expect(line).not.toContain(`"${secret}"`);
    expect(JSON.parse(line).scanner.url).toBe('https://nessus:8834');
  });

  it('hides the headers, body and raw request of an HTTP-client error', () => {
    const err = Object.assign(new Error('Request failed with status code 401'), {
      config: {
        url: '/scans',
        headers: { 'X-ApiKeys': 'accessKey=AK3; secretKey=SK3', 'X-Cookie': 'token=T3' },
        data: '{"credentials":{"add":{"Host":{"SSH":[{"password":"p3"}]}}}}',
      },
      request: { _header: 'POST /scans HTTP/1.1\r\nX-ApiKeys: accessKey=AK3; secretKey=SK3\r\n' },
    });
    const line = logLine({ err });
    for (const secret of ['AK3', 'SK3', 'T3', 'p3']) expect(line).not.toContain(secret);
    expect(JSON.parse(line).err.config.url).toBe('/scans');
  });
});

describe('isSecretKey', () => {
  it.each([
    'password',
    'ssh_password',
    'escalationPassword',
    'secret_key',
    'accessKey',
    'X-ApiKeys',
    'api_key',
    'token',
    'Authorization',
    'ssh_private_key',
    'credentials',
    'set-cookie',
  ])('treats %s as secret', (k) => expect(isSecretKey(k)).toBe(true));

  it.each([
    'username',
    'ssh_username',
    'targets',
    'name',
    'authentication_status',
    'url',
    'escalation_account',
  ])('keeps %s', (k) => expect(isSecretKey(k)).toBe(false));
});

describe('redactText', () => {
  it('removes inline credentials and keeps the rest', () => {
    expect(redactText('X-ApiKeys: accessKey=abc123; secretKey=def456')).toBe(
      `X-ApiKeys: accessKey=${REDACTED}; secretKey=${REDACTED}`,
    );
    expect(redactText('Authorization: Bearer eyJhbGciOi.x-y_z')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactText('GET /scans?token=abcd&x=1')).toBe(`GET /scans?token=${REDACTED}&x=1`);
    expect(redactText('connect redis://:hunter2@redis:6379/0 failed')).toBe(
      `connect redis://:${REDACTED}@redis:6379/0 failed`,
    );
    expect(redactText('https://admin:s3cret@nessus:8834/')).toBe(`https://admin:${REDACTED}@nessus:8834/`);
    expect(redactText('scan 10.0.0.0/24 failed: timeout')).toBe('scan 10.0.0.0/24 failed: timeout');
  });
});

describe('redactSecrets', () => {
  it('deep-copies, replacing values under secret keys at any depth, without touching the input', () => {
    const input = {
      targets: '10.0.0.1',
      ssh_username: 'root',
      ssh_password: 'pw',
      nested: { deeper: { list: [{ escalation_password: 'pw2', keep: 1 }], secretKey: 'sk' } },
      when: new Date(0),
    };
    const out = redactSecrets(input);
    expect(out).toEqual({
      targets: '10.0.0.1',
      ssh_username: 'root',
      ssh_password: REDACTED,
      nested: { deeper: { list: [{ escalation_password: REDACTED, keep: 1 }], secretKey: REDACTED } },
      when: new Date(0),
    });
    expect(input.ssh_password).toBe('pw');
    expect(input.nested.deeper.list[0].escalation_password).toBe('pw2');
  });

  it('turns errors into plain objects without credentials in message, stack, fields or cause', () => {
    const cause = new Error('upstream said accessKey=AK9');
    const err = Object.assign(new Error('failed with Bearer tok-999', { cause }), {
      config: { headers: { 'X-ApiKeys': 'accessKey=AK9; secretKey=SK9' }, url: '/scans' },
      status: 401,
    });
    const out = redactSecrets(err) as unknown as Record<string, unknown>;
    const text = JSON.stringify(out);
    for (const secret of ['tok-999', 'AK9', 'SK9']) expect(text).not.toContain(secret);
    expect(out.name).toBe('Error');
    expect(out.status).toBe(401);
    expect(text).toContain('/scans');
    expect(err.message).toBe('failed with Bearer tok-999');
  });

  it('survives cycles and keeps shared references that are not cycles', () => {
    const shared = { v: 1 };
    const a: Record<string, unknown> = { shared, again: shared, password: 'x' };
    a.self = a;
    const out = redactSecrets(a);
    expect(out).toEqual({ shared: { v: 1 }, again: { v: 1 }, password: REDACTED, self: '[Circular]' });
    expect(() => JSON.stringify(out)).not.toThrow();
  });

  it('redacts map entries and summarises binary data', () => {
    const out = redactSecrets({
      m: new Map([
        ['token', 't'],
        ['ok', 'v'],
      ]),
      buf: Buffer.from('secret bytes'),
    });
    expect(out.m.get('token')).toBe(REDACTED);
    expect(out.m.get('ok')).toBe('v');
    expect(out.buf).toBe('[Binary 12 bytes]');
  });
});
