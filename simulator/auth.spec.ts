import { AuthService, nessus6Js, parseApiKeys } from './auth';
import { DEFAULT_SCENARIO, type Scenario } from './scenario';

describe('nessus6.js token fragment (NESSUS_API.md §1.5)', () => {
  const token = 'B38F7A9D-6DF8-5967-8DEA-03D1F03684E3';
  const js = nessus6Js(token, '10.8.3');
  const uuid = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';

  it.each([
    ['greedy NMB', /\{key:"getApiToken",value:function\(\)\{return"(.*)"\}\},\{key/],
    ['Go lazy', /key:"getApiToken",value:function\(\)\{return"(.*?)"\}/],
    ['Python 2', /key:"getApiToken",value:function\(\)\{return"([\w-]+)"/],
    ['Perl', /key:"getApiToken",value:function\(\)\{return"([^"]+)"/],
    [
      'pyTenable subclass',
      /\{key:"getApiToken",value:function\(\)\{return"([A-Za-z0-9]*-[A-Za-z0-9]*-[A-Za-z0-9]*-[A-Za-z0-9]*-[A-Za-z0-9]*)"\}/,
    ],
    ['eafonin', /getApiToken[^}]+return["']([A-Fa-f0-9-]+)["']/],
    ['another Python client', new RegExp(`getApiToken"[^"]+"(${uuid})`)],
    ['GOV.UK upper-case', /([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})/],
  ])('satisfies the %s pattern', (_name, re) => {
    expect(re.exec(js)?.[1]).toBe(token);
  });

  it('satisfies the grep-based and PowerShell extractions', () => {
    expect(/getApiToken",value:function\(\)\{return(".*?")\}\},/.exec(js)?.[1].split('"')[1]).toBe(token);
    const piece = js.split(';').find((p) => new RegExp(`return"${uuid}`, 'i').test(p));
    expect(piece).toContain(token);
  });

  it('keeps the custom scan template uuid readable', () => {
    expect(/CUSTOM_SCAN_TEMPLATE="(.*)",this\.CUSTOM_AGENT_TEMPLATE/.exec(js)?.[1]).toBe(
      'ab4bacd2-05f6-425c-9d79-3ba3940ad1c24e51e1f403febe40',
    );
  });
});

describe('AuthService', () => {
  let scenario: Scenario;
  let auth: AuthService;
  beforeEach(() => {
    scenario = { ...DEFAULT_SCENARIO };
    auth = new AuthService(() => scenario);
  });

  it('parses X-ApiKeys leniently', () => {
    expect(parseApiKeys('accessKey=a1;secretKey=b2;')).toEqual({ accessKey: 'a1', secretKey: 'b2' });
    expect(parseApiKeys(' accesskey = a1 ; SECRETKEY=b2')).toEqual({ accessKey: 'a1', secretKey: 'b2' });
  });

  it('answers the two 401 texts and the 412 of a Pro licence', () => {
    expect(auth.check({}, false)).toEqual({
      ok: false,
      status: 401,
      error: 'You need to log in to perform this request',
    });
    expect(auth.check({ 'x-cookie': 'token=nope' }, false)).toMatchObject({
      status: 401,
      error: 'Invalid Credentials',
    });
    const token = auth.login('nessus', 'nessus')!;
    scenario.requireApiToken = true;
    expect(auth.check({ 'x-cookie': `token=${token}` }, false)).toMatchObject({ ok: true });
    expect(auth.check({ 'x-cookie': `token=${token}` }, true)).toMatchObject({ status: 412 });
    expect(
      auth.check({ 'x-cookie': `token=${token}`, 'x-api-token': scenario.apiToken.toLowerCase() }, true),
    ).toMatchObject({ ok: true, via: 'session' });
    const keys = `accessKey=${scenario.accessKey}; secretKey=${scenario.secretKey}`;
    expect(auth.check({ 'x-apikeys': keys, 'x-api-token': scenario.apiToken }, true)).toMatchObject({
      status: 412,
    });
  });

  it('expires idle sessions', () => {
    const token = auth.login('nessus', 'nessus')!;
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + scenario.sessionTtlMs - 1000);
    try {
      expect(auth.check({ 'x-cookie': `token=${token}` }, false)).toMatchObject({ ok: true });
      clock.mockReturnValue(now + 2 * scenario.sessionTtlMs);
      expect(auth.check({ 'x-cookie': `token=${token}` }, false)).toMatchObject({ status: 401 });
    } finally {
      clock.mockRestore();
    }
    expect(auth.login('nessus', 'wrong')).toBeNull();
  });
});
