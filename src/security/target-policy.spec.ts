import { ForbiddenTargetError, UnavailableError, ValidationError } from '../common/errors';
import { Resolver, splitTargets, TargetPolicy, TargetPolicyOptions } from './target-policy';

const DNS: Record<string, string[]> = {
  'scanme.example.com': ['10.0.0.7', '2001:db8::7'],
  'web.example.com': ['192.168.1.10'],
  'metadata.nip.io': ['169.254.169.254'],
  'lvh.me': ['127.0.0.1'],
  'split.example.com': ['10.0.0.8', '169.254.169.254'],
  'mapped.example.com': ['::ffff:127.0.0.1'],
  'v6-loop.example.com': ['::1'],
  'empty.example.com': [],
};

/** The injected DNS port: answers from a table, like a test zone would. */
const fakeResolver: Resolver = async (hostname) => {
  if (hostname === 'flaky.example.com')
    throw Object.assign(new Error('queryA EAI_AGAIN'), { code: 'EAI_AGAIN' });
  const answer = DNS[hostname];
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return answer;
};

function policy(opts: Partial<TargetPolicyOptions> = {}, resolver: Resolver = fakeResolver): TargetPolicy {
  return new TargetPolicy({ allow: [], deny: [], maxAddresses: 65536, ...opts }, resolver);
}

async function refusal(p: TargetPolicy, targets: string[]): Promise<Error> {
  try {
    await p.check(targets);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected ${JSON.stringify(targets)} to be refused`);
}

async function forbidden(p: TargetPolicy, target: string): Promise<ForbiddenTargetError> {
  const err = await refusal(p, [target]);
  expect(err).toBeInstanceOf(ForbiddenTargetError);
  const f = err as ForbiddenTargetError;
  expect(f.target).toBe(target);
  expect(f.message).toContain(JSON.stringify(target));
  return f;
}

describe('splitTargets', () => {
  it('splits on commas and white space, trims and drops empties', () => {
    expect(splitTargets(' 10.0.0.1, 10.0.0.2\n10.0.0.3\t,,host.example.com ')).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      'host.example.com',
    ]);
    expect(splitTargets(['10.0.0.1,10.0.0.2', ' ', 'a.example'])).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      'a.example',
    ]);
    expect(splitTargets('')).toEqual([]);
  });
});

describe('TargetPolicy: deny-list bypass attempts (RELIABILITY scenario 35)', () => {
  const p = policy();

  it.each([
    ['127.0.0.1', 'loopback 127.0.0.0/8'],
    ['127.1', 'loopback 127.0.0.0/8'],
    ['2130706433', 'loopback 127.0.0.0/8'],
    ['0x7f000001', 'loopback 127.0.0.0/8'],
    ['017700000001', 'loopback 127.0.0.0/8'],
    ['127.255.255.254', 'loopback 127.0.0.0/8'],
    ['::1', 'loopback ::1/128'],
    ['[::1]', 'loopback ::1/128'],
    ['0:0:0:0:0:0:0:1', 'loopback ::1/128'],
    ['::ffff:127.0.0.1', 'loopback 127.0.0.0/8'],
    ['::FFFF:7F00:1', 'loopback 127.0.0.0/8'],
    ['::127.0.0.1', 'loopback 127.0.0.0/8'],
  ])('refuses loopback %s', async (target, rule) => {
    expect((await forbidden(p, target)).rule).toContain(rule);
  });

  it.each([
    '169.254.169.254',
    '169.254.43518',
    '2852039166',
    '0251.0376.0251.0376',
    '0xa9fea9fe',
    '0xa9.0xfe.0xa9.0xfe',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
  ])('refuses the cloud metadata address written as %s', async (target) => {
    expect((await forbidden(p, target)).rule).toContain('link-local (cloud metadata) 169.254.0.0/16');
  });

  it('refuses IPv6 routes to the metadata service', async () => {
    expect((await forbidden(p, 'fd00:ec2::254')).rule).toContain(
      'cloud metadata (AWS IPv6) fd00:ec2::254/128',
    );
    expect((await forbidden(p, '64:ff9b::a9fe:a9fe')).rule).toBe(
      'link-local (cloud metadata) 169.254.0.0/16 via NAT64 64:ff9b::/96',
    );
    expect((await forbidden(p, '64:ff9b::169.254.169.254')).rule).toContain('via NAT64');
    expect((await forbidden(p, '2002:a9fe:a9fe::')).rule).toBe(
      'link-local (cloud metadata) 169.254.0.0/16 via 6to4 2002::/16',
    );
    expect((await forbidden(p, '2002:7f00:1::1')).rule).toContain('loopback 127.0.0.0/8 via 6to4');
    expect((await forbidden(p, '64:ff9b:1::a9fe:a9fe')).rule).toContain('local-use NAT64');
    expect((await forbidden(p, '2001:0:4136:e378:8000:63bf:3fff:fdd2')).rule).toContain('Teredo');
  });

  it.each([
    ['fe80::1%eth0', 'link-local fe80::/10'],
    ['fe80::1', 'link-local fe80::/10'],
    ['0.0.0.0', 'unspecified ("this network") 0.0.0.0/8'],
    ['0', 'unspecified ("this network") 0.0.0.0/8'],
    ['::', 'unspecified ::/128'],
    ['224.0.0.1', 'multicast 224.0.0.0/4'],
    ['239.255.255.250', 'multicast 224.0.0.0/4'],
    ['ff02::1', 'multicast ff00::/8'],
    ['255.255.255.255', 'broadcast 255.255.255.255/32'],
    ['0xffffffff', 'broadcast 255.255.255.255/32'],
    ['240.0.0.1', 'reserved 240.0.0.0/4'],
  ])('refuses %s (%s)', async (target, rule) => {
    expect((await forbidden(p, target)).rule).toBe(rule);
  });

  it('refuses the name localhost without asking DNS', async () => {
    const resolver = jest.fn(fakeResolver);
    const err = await forbidden(policy({}, resolver), 'LocalHost');
    expect(err.rule).toContain('loopback');
    expect(resolver).not.toHaveBeenCalled();
    await forbidden(policy(), 'api.localhost');
  });

  it('adds TARGET_DENY entries (control plane: scanner, Redis, K8s API) to the built-in list', async () => {
    const p2 = policy({ deny: ['10.9.0.0/16', '10.0.0.53', '192.168.5.10-192.168.5.20'] });
    expect((await forbidden(p2, '10.9.3.4')).rule).toBe('TARGET_DENY 10.9.0.0/16');
    expect((await forbidden(p2, '10.0.0.53')).rule).toBe('TARGET_DENY 10.0.0.53');
    expect((await forbidden(p2, '10.0.0.0/24')).rule).toBe('overlaps TARGET_DENY 10.0.0.53');
    expect((await forbidden(p2, '192.168.5.15')).rule).toBe('TARGET_DENY 192.168.5.10-192.168.5.20');
    expect((await forbidden(p2, '::ffff:10.9.0.1')).rule).toBe('TARGET_DENY 10.9.0.0/16');
    await expect(p2.check(['10.0.0.52', '10.8.255.255'])).resolves.toMatchObject({ addressCount: 2 });
  });

  it('names the refused target and rule in the message and refuses the whole request', async () => {
    const err = await refusal(p, ['10.0.0.5', '0x7f000001']);
    expect(err).toBeInstanceOf(ForbiddenTargetError);
    expect(err.message).toBe('target "0x7f000001" is not allowed: loopback 127.0.0.0/8');
  });
});

describe('TargetPolicy: range and size abuse (scenario 36)', () => {
  it.each([
    ['169.254.0.0/15', 'overlaps link-local (cloud metadata) 169.254.0.0/16'],
    ['0.0.0.0/0', 'overlaps unspecified ("this network") 0.0.0.0/8'],
    ['126.0.0.0/7', 'overlaps loopback 127.0.0.0/8'],
    ['10.1.0.1-169.254.169.254', 'overlaps loopback 127.0.0.0/8'],
    ['169.254.169.250-169.254.169.255', 'overlaps link-local (cloud metadata) 169.254.0.0/16'],
    ['::/0', 'overlaps unspecified ::/128'],
    ['::ffff:0:0/96', 'overlaps unspecified ("this network") 0.0.0.0/8'],
    ['::ffff:127.0.0.0/104', 'overlaps loopback 127.0.0.0/8'],
    ['::fffe:0:0/95', 'overlaps unspecified ("this network") 0.0.0.0/8 via IPv4-mapped ::ffff:0:0/96'],
    [
      '::ffff:0:a9fe:0/112',
      'overlaps link-local (cloud metadata) 169.254.0.0/16 via IPv4-translated ::ffff:0:0:0/96',
    ],
    ['::7f00:0/104', 'overlaps loopback 127.0.0.0/8 via IPv4-compatible ::/96'],
    ['64:ff9b::a9fe:0/112', 'overlaps link-local (cloud metadata) 169.254.0.0/16 via NAT64 64:ff9b::/96'],
    ['2002:a9fe::/32', 'overlaps link-local (cloud metadata) 169.254.0.0/16 via 6to4 2002::/16'],
    ['fe00::/7', 'overlaps link-local fe80::/10'],
  ])('refuses %s because it contains denied space', async (target, rule) => {
    expect((await forbidden(policy(), target)).rule).toBe(rule);
  });

  it('refuses space not entirely inside TARGET_ALLOW', async () => {
    const p = policy({ allow: ['10.1.0.0/16'] });
    expect((await forbidden(p, '10.0.0.0/8')).rule).toBe('outside TARGET_ALLOW');
    expect((await forbidden(p, '10.1.255.255-10.2.0.0')).rule).toBe('outside TARGET_ALLOW');
    expect((await forbidden(p, '192.168.1.1')).rule).toBe('outside TARGET_ALLOW');
    expect((await forbidden(p, '2001:db8::1')).rule).toBe('outside TARGET_ALLOW');
    await expect(p.check(['10.1.2.0/24', '10.1.0.1-10.1.0.9'])).resolves.toMatchObject({ addressCount: 265 });
  });

  it('accepts space covered by adjacent allow entries together', async () => {
    const p = policy({ allow: ['10.0.0.0/25', '10.0.0.128-10.0.0.255'] });
    await expect(p.check(['10.0.0.0/24'])).resolves.toMatchObject({ addressCount: 256 });
    expect((await forbidden(p, '10.0.0.0/23')).rule).toBe('outside TARGET_ALLOW');
  });

  it('never lets TARGET_ALLOW override the deny list', async () => {
    const p = policy({ allow: ['0.0.0.0/0', '::/0'] });
    expect((await forbidden(p, '169.254.169.254')).rule).toContain('cloud metadata');
    expect((await forbidden(p, '127.0.0.1')).rule).toContain('loopback');
  });

  it('refuses targets that expand past MAX_TARGET_ADDRESSES, naming the limit', async () => {
    const err = await refusal(policy(), ['10.0.0.0/8']);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('"10.0.0.0/8"');
    expect(err.message).toContain('expand to 16777216 addresses, more than MAX_TARGET_ADDRESSES (65536)');
    await expect(policy().check(['10.0.0.0/16'])).resolves.toMatchObject({ addressCount: 65536 });
    const sum = await refusal(policy({ maxAddresses: 300 }), ['10.0.0.0/24', '10.0.1.0/26', '10.0.2.0/26']);
    expect(sum.message).toContain('"10.0.1.0/26"');
    expect(sum.message).toContain('expand to 320 addresses, more than MAX_TARGET_ADDRESSES (300)');
    expect((await refusal(policy(), ['2001:db8::/64'])).message).toContain('more than 10^12 addresses');
  });

  it('counts host-name addresses toward the limit', async () => {
    const err = await refusal(policy({ maxAddresses: 2 }), ['10.0.0.1', 'scanme.example.com']);
    expect(err.message).toContain('expand to 3 addresses, more than MAX_TARGET_ADDRESSES (2)');
  });

  it('refuses too many items and over-long strings with the limit in the message', async () => {
    const many = Array.from({ length: 257 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    const err = await refusal(policy(), many);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toBe('targets: 257 targets, more than the limit of 256');
    await expect(policy({ maxItems: 300 }).check(many)).resolves.toMatchObject({ addressCount: 257 });

    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(20)}.com`;
    const tooLong = await refusal(policy(), [long]);
    expect(tooLong).toBeInstanceOf(ValidationError);
    expect(tooLong.message).toContain('longer than 255 characters');
    expect(tooLong.message.length).toBeLessThan(200);
  });

  it('refuses an empty target list', async () => {
    expect(await refusal(policy(), [' , '])).toBeInstanceOf(ValidationError);
  });
});

describe('TargetPolicy: DNS (scenario 37)', () => {
  it('refuses a name resolving to the metadata address', async () => {
    expect((await forbidden(policy(), 'metadata.nip.io')).rule).toBe(
      'resolves to 169.254.169.254, link-local (cloud metadata) 169.254.0.0/16',
    );
    expect((await forbidden(policy(), 'lvh.me')).rule).toContain('resolves to 127.0.0.1, loopback');
    expect((await forbidden(policy(), 'mapped.example.com')).rule).toContain(
      'resolves to 127.0.0.1, loopback',
    );
    expect((await forbidden(policy(), 'v6-loop.example.com')).rule).toContain('resolves to ::1, loopback');
  });

  it('refuses a name with one allowed and one forbidden address', async () => {
    expect((await forbidden(policy(), 'split.example.com')).rule).toContain('resolves to 169.254.169.254');
  });

  it('checks resolved addresses against TARGET_ALLOW', async () => {
    const p = policy({ allow: ['10.0.0.0/8'] });
    expect((await forbidden(p, 'scanme.example.com')).rule).toBe(
      'resolves to 2001:db8::7, outside TARGET_ALLOW',
    );
  });

  it('sends Nessus the checked addresses, so a later rebinding cannot change what is scanned', async () => {
    const answers = [['10.0.0.9'], ['169.254.169.254']];
    const rebinding: Resolver = async () => answers.shift() ?? [];
    const checked = await policy({}, rebinding).check(['rebind.example.com']);
    expect(checked).toEqual({
      targets: ['rebind.example.com'],
      nessusTargets: ['10.0.0.9'],
      addressCount: 1,
    });
  });

  it('reports names that do not resolve, and transient DNS failures, distinctly', async () => {
    const missing = await refusal(policy(), ['nope.example.com']);
    expect(missing).toBeInstanceOf(ValidationError);
    expect(missing.message).toBe('target "nope.example.com": the host name does not resolve');
    expect(await refusal(policy(), ['empty.example.com'])).toBeInstanceOf(ValidationError);
    const flaky = await refusal(policy(), ['flaky.example.com']);
    expect(flaky).toBeInstanceOf(UnavailableError);
  });

  it('gives up on a resolver that does not answer', async () => {
    const hanging: Resolver = () => new Promise(() => undefined);
    const err = await refusal(policy({ resolveTimeoutMs: 20 }, hanging), ['slow.example.com']);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('slow.example.com');
  });

  it('refuses a resolver answer that is not an address', async () => {
    const bad: Resolver = async () => ['not-an-ip'];
    expect((await forbidden(policy({}, bad), 'odd.example.com')).rule).toContain('not an IP address');
  });
});

describe('TargetPolicy: input that must be rewritten or is not a target', () => {
  it.each([
    ['10.0.0.010', 'write it as 10.0.0.8'],
    ['167772165', 'write it as 10.0.0.5'],
    ['10.5', 'write it as 10.0.0.5'],
    ['0xa000005', 'write it as 10.0.0.5'],
    ['2001:db8::1%eth0', 'zone ids are not accepted'],
    ['::ffff:10.0.0.05', 'embedded IPv4 part must be dotted decimal'],
  ])('refuses the non-canonical form %s of allowed space', async (target, why) => {
    const err = await refusal(policy(), [target]);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain(JSON.stringify(target));
    expect(err.message).toContain(why);
  });

  it.each([
    '10.0.0.256',
    '10.0.0.0/33',
    '10.0.0.0/024',
    '2001:db8::/129',
    '10.0.0.9-10.0.0.1',
    '2001:db8::1-2001:db8::9',
    '1.2.3.4.5',
    '08.0.0.1',
    'exa mple.com',
    '-bad.example.com',
    'bad_.example.com.',
    'ex\u0430mple.com',
    'a..b',
    '10.0.0.1/',
    'http://10.0.0.1/',
    'host.example.com:8834',
    '%',
  ])('refuses %j as not a valid target', async (target) => {
    const err = await refusal(policy(), [target]);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).fields.targets).toBeDefined();
  });

  it('escapes control characters when it names a bad target', async () => {
    const err = await refusal(policy(), ['bad\u0000name']);
    expect(err.message).toContain('"bad\\u0000name"');
  });
});

describe('TargetPolicy: allowed targets', () => {
  it('accepts private addresses, CIDRs, ranges and host names, normalised', async () => {
    const checked = await policy().check([
      '10.0.0.5',
      '192.168.1.0/24',
      '2001:DB8:0:0::/120',
      '172.16.0.1-172.16.0.10',
      '10.0.1.1-20',
      'ScanMe.Example.com.',
      '10.0.0.5',
      '10.0.0.6/32',
      '10.0.3.77/24',
      '::ffff:10.0.0.9',
      'fd12:3456::1',
      '100.64.0.1',
      '::ffff:a00:400/120',
    ]);
    expect(checked.targets).toEqual([
      '10.0.0.5',
      '192.168.1.0/24',
      '2001:db8::/120',
      '172.16.0.1-172.16.0.10',
      '10.0.1.1-10.0.1.20',
      'scanme.example.com',
      '10.0.0.6',
      '10.0.3.0/24',
      '10.0.0.9',
      'fd12:3456::1',
      '100.64.0.1',
      '10.0.4.0/24',
    ]);
    expect(checked.nessusTargets).toEqual([
      '10.0.0.5',
      '192.168.1.0/24',
      '2001:db8::/120',
      '172.16.0.1-172.16.0.10',
      '10.0.1.1-10.0.1.20',
      '10.0.0.6',
      '10.0.3.0/24',
      '10.0.0.9',
      'fd12:3456::1',
      '100.64.0.1',
      '10.0.4.0/24',
      '10.0.0.7',
      '2001:db8::7',
    ]);
    expect(checked.addressCount).toBe(1 + 256 + 256 + 10 + 20 + 1 + 256 + 1 + 1 + 1 + 256 + 2);
  });

  it('accepts a comma-separated string item and a range of one address', async () => {
    await expect(policy().check(['10.0.0.1,web.example.com 10.0.0.2-10.0.0.2'])).resolves.toEqual({
      targets: ['10.0.0.1', 'web.example.com', '10.0.0.2'],
      nessusTargets: ['10.0.0.1', '10.0.0.2', '192.168.1.10'],
      addressCount: 3,
    });
  });

  it('accepts a host name whose first label looks numeric', async () => {
    const resolver: Resolver = async () => ['10.0.0.4'];
    await expect(policy({}, resolver).check(['10-foo.example.com'])).resolves.toMatchObject({
      nessusTargets: ['10.0.0.4'],
    });
  });
});

describe('TargetPolicy: configuration and pools', () => {
  it('refuses invalid or non-canonical TARGET_ALLOW / TARGET_DENY entries, naming each', () => {
    expect(() => policy({ allow: ['10.0.0.0/8', 'nonsense'], deny: ['127.1'] })).toThrow(
      /TARGET_ALLOW: "nonsense".*TARGET_DENY: "127.1"/,
    );
  });

  it('applies a pool allow list on top of TARGET_ALLOW and adds pool deny entries', async () => {
    const global = policy({ allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] });
    const pool = global.withPool({
      name: 'dmz',
      allow: ['10.2.0.0/16', '192.168.0.0/16'],
      deny: ['10.2.9.0/24'],
    });
    await expect(pool.check(['10.2.0.0/24'])).resolves.toMatchObject({ addressCount: 256 });
    expect((await forbidden(pool, '10.3.0.1')).rule).toBe('outside the allow list of pool dmz');
    expect((await forbidden(pool, '192.168.0.1')).rule).toBe('outside TARGET_ALLOW');
    expect((await forbidden(pool, '10.2.9.1')).rule).toBe('deny list of pool dmz: 10.2.9.0/24');
    expect((await forbidden(pool, '10.9.0.1')).rule).toBe('TARGET_DENY 10.9.0.0/16');
    await expect(global.check(['10.3.0.1'])).resolves.toMatchObject({ addressCount: 1 });
  });
});
