import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadScannersFileSync,
  parseScannersFile,
  ScannersFileError,
  substituteVariables,
  SubstitutionError,
} from './scanners-file';

const parse = (text: string, env: Record<string, string> = {}, defaultMaxConcurrentScans = 2) =>
  parseScannersFile(text, { env, defaultMaxConcurrentScans });

function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ScannersFileError);
    return (err as ScannersFileError).problems;
  }
  throw new Error('expected the file to be rejected');
}

const entry = (extra = '') => `  - instance_id: s1
    url: https://n1:8834
    username: u
    password: p
${extra}`;

describe('substituteVariables', () => {
  const env = { HOST: 'scan.example', PORT: '8834', EMPTY: '' };

  it('replaces ${VAR} with its value', () => {
    expect(substituteVariables('https://${HOST}', env)).toBe('https://scan.example');
  });

  it('uses the default of ${VAR:-default} only when VAR is unset or empty', () => {
    expect(substituteVariables('${HOST:-other}', env)).toBe('scan.example');
    expect(substituteVariables('${MISSING:-other}', env)).toBe('other');
    expect(substituteVariables('${EMPTY:-other}', env)).toBe('other');
  });

  it('accepts an empty default and keeps an empty set value for plain ${VAR}', () => {
    expect(substituteVariables('a${MISSING:-}b', env)).toBe('ab');
    expect(substituteVariables('a${EMPTY}b', env)).toBe('ab');
  });

  it('keeps defaults containing colons, slashes and dashes', () => {
    expect(substituteVariables('${MISSING:-https://127.0.0.1:8834/a-b}', env)).toBe(
      'https://127.0.0.1:8834/a-b',
    );
  });

  it('turns $${…} into a literal ${…} without looking the variable up', () => {
    expect(substituteVariables('pa$${MISSING}ss', env)).toBe('pa${MISSING}ss');
    expect(substituteVariables('$${HOST} and ${HOST}', env)).toBe('${HOST} and scan.example');
  });

  it('expands several expressions on one line and leaves a lone $ alone', () => {
    expect(substituteVariables('https://${HOST}:${PORT}/$x$', env)).toBe('https://scan.example:8834/$x$');
  });

  it('refuses an unset variable without a default, naming it', () => {
    expect(() => substituteVariables('${NESSUS_PASSWORD}', env)).toThrow(/NESSUS_PASSWORD is not set/);
  });

  it('refuses an unterminated ${ and a bad variable name', () => {
    expect(() => substituteVariables('https://${HOST', env)).toThrow(SubstitutionError);
    expect(() => substituteVariables('https://${HOST', env)).toThrow(/unterminated/);
    expect(() => substituteVariables('${1ABC}', env)).toThrow(/not a valid variable name/);
    expect(() => substituteVariables('${}', env)).toThrow(/not a valid variable name/);
  });
});

describe('parseScannersFile: substitution in the file', () => {
  it('substitutes inside values and accepts booleans and numbers given as text', () => {
    const text = `nessus:
  - instance_id: scanner1
    url: \${NESSUS_URL:-https://127.0.0.1:8834}
    username: \${NESSUS_USERNAME:-nessus}
    password: \${NESSUS_PASSWORD}
    max_concurrent_scans: \${NESSUS_MAX_SCANS:-3}
    tls_verify: \${NESSUS_TLS_VERIFY:-true}
    enabled: "\${ENABLED:-yes}"
`;
    const { config } = parse(text, { NESSUS_PASSWORD: 's3cret', NESSUS_TLS_VERIFY: 'false' });
    expect(config.pools[0].scanners[0]).toMatchObject({
      url: 'https://127.0.0.1:8834',
      username: 'nessus',
      password: 's3cret',
      maxConcurrentScans: 3,
      tlsVerify: false,
      enabled: true,
    });
  });

  it('never lets a substituted value change the YAML structure', () => {
    const { config } = parse(`nessus:\n${entry()}`.replace('password: p', 'password: ${PW}'), {
      PW: 'a # b: [c]\n  evil: true',
    });
    expect(config.pools[0].scanners[0].password).toBe('a # b: [c]\n  evil: true');
  });

  it('keeps a credential written as digits as the text written', () => {
    const { config } = parse(`nessus:\n${entry()}`.replace('password: p', 'password: 0123'));
    expect(config.pools[0].scanners[0].password).toBe('0123');
  });

  it('names the variable and its line when it is unset without a default', () => {
    const text = `nessus:\n${entry()}  - instance_id: s2\n    url: https://n2\n    username: u\n    password: \${NESSUS2_PASSWORD}\n`;
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/^line 9: variable NESSUS2_PASSWORD is not set/),
    ]);
  });

  it('reports an unterminated ${ with its line and every problem at once', () => {
    const problems = problemsOf(
      `nessus:\n  - instance_id: s1\n    url: "https://\${HOST"\n    username: \${U}\n    password: p\n`,
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^line 3: unterminated/);
    expect(problems[1]).toMatch(/^line 4: variable U is not set/);
  });

  it('ignores ${…} in comments', () => {
    expect(() => parse(`# url: \${UNSET}\nnessus:\n${entry()}`)).not.toThrow();
  });
});

describe('parseScannersFile: schema', () => {
  it('applies defaults: name, enabled, MAX_CONCURRENT_SCANS capacity, tls_verify, api_token', () => {
    const { config, warnings } = parse(`nessus:\n${entry()}`, {}, 7);
    expect(config.pools[0].scanners[0]).toEqual({
      pool: 'nessus',
      instanceId: 's1',
      name: 's1',
      url: 'https://n1:8834',
      username: 'u',
      password: 'p',
      accessKey: undefined,
      secretKey: undefined,
      enabled: true,
      maxConcurrentScans: 7,
      tlsVerify: true,
      caFile: undefined,
      apiToken: 'auto',
    });
    expect(warnings).toEqual([]);
  });

  it('keeps pools in file order (the first is the default pool)', () => {
    const text = `dmz:\n${entry()}lan:\n${entry().replace('s1', 's2')}`;
    expect(parse(text).config.pools.map((p) => p.name)).toEqual(['dmz', 'lan']);
  });

  it('names pool, instance and field in each error, with the line', () => {
    const text = `nessus:
  - instance_id: scanner1
    url: ftp://nessus
    username: u
    password: p
    max_concurrent_scans: 0
    tls_verify: maybe
    api_token: abc
`;
    expect(problemsOf(text)).toEqual([
      'pool "nessus", instance "scanner1": url: must be an http(s) URL (line 3)',
      'pool "nessus", instance "scanner1": max_concurrent_scans: must be at least 1 (line 6)',
      'pool "nessus", instance "scanner1": tls_verify: must be true or false (line 7)',
      'pool "nessus", instance "scanner1": api_token: must be auto, off or a UUID (line 8)',
    ]);
  });

  it('names an entry without instance_id by its position', () => {
    expect(problemsOf(`nessus:\n${entry()}  - url: https://x\n    username: u\n    password: p\n`)).toEqual([
      'pool "nessus", entry 2: instance_id: is required (line 6)',
    ]);
  });

  it('requires username with password or access_key with secret_key', () => {
    const base = `nessus:\n  - instance_id: s1\n    url: https://n1\n`;
    expect(problemsOf(base)[0]).toMatch(/instance "s1": username: give username and password, or access_key/);
    expect(problemsOf(`${base}    username: u\n`)[0]).toMatch(
      /instance "s1": password: is required with username/,
    );
    expect(problemsOf(`${base}    secret_key: k\n`)[0]).toMatch(
      /instance "s1": access_key: is required with secret_key/,
    );
    expect(() => parse(`${base}    access_key: a\n    secret_key: k\n`)).not.toThrow();
  });

  it('never echoes a credential in an error', () => {
    const problems = problemsOf(
      `nessus:\n  - instance_id: s1\n    url: https://n1\n    password: hunter2-secret\n`,
    );
    expect(problems.join('\n')).not.toContain('hunter2-secret');
  });

  it('refuses an instance_id used twice, even across pools', () => {
    expect(problemsOf(`a:\n${entry()}b:\n${entry()}`)).toEqual([
      expect.stringMatching(/^pool "b", instance "s1": instance_id: duplicate; already used in pool "a"/),
    ]);
  });

  it('refuses a file without pools, an empty pool, a bad pool name and a non-list pool', () => {
    expect(problemsOf('')).toEqual([expect.stringMatching(/^no pools/)]);
    expect(problemsOf('# nothing\n{}\n')).toEqual([expect.stringMatching(/^no pools/)]);
    expect(problemsOf('- a\n- b\n')[0]).toMatch(/must map pool names/);
    expect(problemsOf(`nessus: []\n`)[0]).toMatch(/pool "nessus": must be a non-empty list/);
    expect(problemsOf(`nessus:\n  instance_id: s1\n`)[0]).toMatch(/pool "nessus": must be a non-empty list/);
    expect(problemsOf(`"bad pool":\n${entry()}`)[0]).toMatch(/pool "bad pool": name must be 1-64 of/);
  });

  it('reports a YAML syntax error with its line', () => {
    expect(problemsOf('nessus:\n  - instance_id: [s1\n')[0]).toMatch(/^line \d+: YAML:/);
  });

  it('warns about unknown fields and tls_verify false without failing', () => {
    const { config, warnings } = parse(
      `nessus:\n${entry('    scanner_type: nessus\n    tls_verify: false\n')}`,
    );
    expect(config.pools[0].scanners[0].tlsVerify).toBe(false);
    expect(warnings).toEqual([
      'pool "nessus", instance "s1": unknown field "scanner_type" ignored (line 6)',
      expect.stringContaining('pool "nessus", instance "s1": tls_verify is false'),
    ]);
  });

  it('treats an empty optional value (e.g. ${CA:-}) as not given', () => {
    const { config } = parse(`nessus:\n${entry('    ca_file: ${CA:-}\n    name: ""\n')}`);
    expect(config.pools[0].scanners[0]).toMatchObject({ caFile: undefined, name: 's1' });
  });
});

describe('loadScannersFileSync', () => {
  it('resolves a relative ca_file against the file and refuses one that cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nmg-scanners-'));
    writeFileSync(join(dir, 'ca.pem'), 'pem');
    const file = join(dir, 'scanners.yaml');
    writeFileSync(file, `nessus:\n${entry('    ca_file: ca.pem\n')}`);
    const opts = { env: {}, defaultMaxConcurrentScans: 2 };
    expect(loadScannersFileSync(file, opts).config.pools[0].scanners[0].caFile).toBe(join(dir, 'ca.pem'));

    writeFileSync(file, `nessus:\n${entry('    ca_file: missing.pem\n')}`);
    expect(() => loadScannersFileSync(file, opts)).toThrow(/instance "s1": ca_file: cannot read/);
    expect(() => loadScannersFileSync(join(dir, 'none.yaml'), opts)).toThrow(/cannot read the file: ENOENT/);
  });

  it('loads the shipped config/scanners.yaml with its defaults', () => {
    const { config } = loadScannersFileSync(join(__dirname, '../../config/scanners.yaml'), {
      env: {},
      defaultMaxConcurrentScans: 5,
    });
    expect(config.pools.map((p) => p.name)).toEqual(['nessus']);
    expect(config.pools[0].scanners[0]).toMatchObject({
      instanceId: 'scanner1',
      url: 'https://127.0.0.1:8834',
      maxConcurrentScans: 2,
      tlsVerify: true,
    });
  });
});
