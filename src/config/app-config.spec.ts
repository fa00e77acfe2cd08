import { readFileSync } from 'node:fs';
import { AppConfig, ConfigError } from './app-config';
import { envSchema } from './env.schema';

describe('AppConfig.fromEnv', () => {
  it('starts with SPEC defaults when nothing is set', () => {
    const c = AppConfig.fromEnv({});
    expect(c.mode).toBe('all');
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 3000 });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.storage.dataDir).toBe('./data/tasks');
    expect(c.scanners).toEqual({ configPath: './config/scanners.yaml', defaultMaxConcurrentScans: 2 });
    expect(c.pipeline).toMatchObject({
      workerConcurrency: 20,
      pollIntervalSeconds: 30,
      scanTimeoutSeconds: 86400,
    });
    expect(c.idempotency.ttlSeconds).toBe(172800);
    expect(c.security.maxTargetAddresses).toBe(65536);
    expect(c.housekeeping).toEqual({ completedTtlDays: 7, failedTtlDays: 30, nessusScanRetentionHours: 24 });
    expect(c.logLevel).toBe('info');
  });

  it('reports every bad variable at once, each by name', () => {
    let err: ConfigError | undefined;
    try {
      AppConfig.fromEnv({ APP_MODE: 'bogus', PORT: 'eighty', POLL_INTERVAL_SECONDS: '0', LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.message;
    expect(text).toMatch(/APP_MODE: must be one of all, api, worker \(got "bogus"\)/);
    expect(text).toMatch(/PORT: must be a whole number/);
    expect(text).toMatch(/POLL_INTERVAL_SECONDS: must be between 1 and 3600/);
    expect(text).toMatch(/LOG_LEVEL/);
    expect(err!.problems).toHaveLength(4);
  });

  it('reports the problems between variables together with those of single variables', () => {
    let err: ConfigError | undefined;
    try {
      AppConfig.fromEnv({
        PORT: 'abc',
        HOST: '0.0.0.0',
        TARGET_DENY: 'garbage',
        MCP_ALLOWED_ORIGINS: 'nope',
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'HOST',
      'MCP_ALLOWED_ORIGINS',
      'PORT',
      'TARGET_DENY',
    ]);
  });

  it('refuses an idempotency TTL that would lapse between the renewals of an unfinished task', () => {
    expect(() => AppConfig.fromEnv({ IDEMPOTENCY_TTL_SECONDS: '100' })).toThrow(
      'IDEMPOTENCY_TTL_SECONDS: must be at least 120, twice the longer of POLL_INTERVAL_SECONDS and RECONCILE_INTERVAL_SECONDS, which renew keys (got 100)',
    );
    expect(() =>
      AppConfig.fromEnv({ IDEMPOTENCY_TTL_SECONDS: '1000', POLL_INTERVAL_SECONDS: '600' }),
    ).toThrow(/IDEMPOTENCY_TTL_SECONDS: must be at least 1200, .*\(got 1000\)/);
    expect(AppConfig.fromEnv({ IDEMPOTENCY_TTL_SECONDS: '120' }).idempotency.ttlSeconds).toBe(120);
  });

  it('refuses a non-loopback HOST without API keys unless unauthenticated access is allowed', () => {
    expect(() => AppConfig.fromEnv({ HOST: '0.0.0.0' })).toThrow(/HOST: 0.0.0.0 is not a loopback address/);
    expect(() => AppConfig.fromEnv({ HOST: '127.evil.example' })).toThrow(
      /HOST: 127.evil.example is not a loopback/,
    );
    expect(AppConfig.fromEnv({ HOST: '127.0.0.2' }).http.host).toBe('127.0.0.2');
    expect(AppConfig.fromEnv({ HOST: '0.0.0.0', API_KEYS: 'k1' }).http.host).toBe('0.0.0.0');
    expect(
      AppConfig.fromEnv({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: 'true' }).security.allowUnauthenticated,
    ).toBe(true);
  });

  it('refuses a process-wide TLS verification bypass', () => {
    expect(() => AppConfig.fromEnv({ NODE_TLS_REJECT_UNAUTHORIZED: '0' })).toThrow(
      /NODE_TLS_REJECT_UNAUTHORIZED/,
    );
  });

  it('splits lists on commas and white space', () => {
    const c = AppConfig.fromEnv({ API_KEYS: 'alice:k1, k2', TARGET_ALLOW: '10.0.0.0/8 192.168.0.0/16' });
    expect(c.security.apiKeys).toEqual(['alice:k1', 'k2']);
    expect(c.security.targetAllow).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
  });

  it('knows which modes run consumers and which serve the API', () => {
    expect(
      [AppConfig.fromEnv({ APP_MODE: 'api' })].map((c) => [c.httpApiEnabled, c.consumersEnabled]),
    ).toEqual([[true, false]]);
    expect(
      [AppConfig.fromEnv({ APP_MODE: 'worker' })].map((c) => [c.httpApiEnabled, c.consumersEnabled]),
    ).toEqual([[false, true]]);
    expect(
      [AppConfig.fromEnv({ APP_MODE: 'all' })].map((c) => [c.httpApiEnabled, c.consumersEnabled]),
    ).toEqual([[true, true]]);
  });
});

describe('.env.example', () => {
  it('documents every variable of the schema and nothing else', () => {
    const text = readFileSync(`${__dirname}/../../.env.example`, 'utf8');
    const documented = [...text.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(Object.keys(envSchema.shape).sort());
  });
});

describe('cross-field checks', () => {
  it('names bad CIDRs, origins and key entries', () => {
    expect(() =>
      AppConfig.fromEnv({ TARGET_ALLOW: '10.0.0.0/33', MCP_ALLOWED_ORIGINS: 'evil', API_KEYS: 'alice:' }),
    ).toThrow(
      /TARGET_ALLOW[\s\S]*MCP_ALLOWED_ORIGINS: "evil"[\s\S]*API_KEYS: the entry named alice has no token/,
    );
  });
});
