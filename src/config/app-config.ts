import { isIPv4 } from 'node:net';
import { policyListProblems } from '../security/target-policy';
import { AppMode, Env, envSchema } from './env.schema';

/** Thrown when the environment is invalid; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Typed, validated configuration. Built once from the environment before Nest starts and provided
 * to every module; nothing outside src/config reads process.env.
 */
export class AppConfig {
  readonly mode: AppMode;
  readonly http: { host: string; port: number; bodyLimitBytes: number };
  readonly redis: { url: string; sentinels: string[]; sentinelName: string; prefix: string };
  readonly storage: { dataDir: string };
  readonly scanners: { configPath: string; defaultMaxConcurrentScans: number };
  readonly pipeline: {
    workerConcurrency: number;
    pollIntervalSeconds: number;
    scanTimeoutSeconds: number;
    reconcileIntervalSeconds: number;
    shutdownTimeoutSeconds: number;
  };
  readonly idempotency: { ttlSeconds: number };
  readonly security: {
    apiKeys: string[];
    allowUnauthenticated: boolean;
    metricsPublic: boolean;
    targetAllow: string[];
    targetDeny: string[];
    maxTargetAddresses: number;
    mcpAllowedOrigins: string[];
    rateLimitPerMinute: number;
    /** 0: no cap. */
    maxActiveTasksPerClient: number;
  };
  readonly mcp: { sessionIdleSeconds: number };
  readonly housekeeping: {
    completedTtlDays: number;
    failedTtlDays: number;
    nessusScanRetentionHours: number;
  };
  readonly logLevel: Env['LOG_LEVEL'];
  /** Environment snapshot for ${VAR} substitution in scanners.yaml. */
  readonly substitutionEnv: Readonly<Record<string, string | undefined>>;

  constructor(env: Env, substitutionEnv: Record<string, string | undefined> = {}) {
    this.mode = env.APP_MODE;
    this.http = { host: env.HOST, port: env.PORT, bodyLimitBytes: env.BODY_LIMIT_BYTES };
    this.redis = {
      url: env.REDIS_URL,
      sentinels: env.REDIS_SENTINELS,
      sentinelName: env.REDIS_SENTINEL_NAME,
      prefix: env.REDIS_PREFIX,
    };
    this.storage = { dataDir: env.DATA_DIR };
    this.scanners = { configPath: env.SCANNER_CONFIG, defaultMaxConcurrentScans: env.MAX_CONCURRENT_SCANS };
    this.pipeline = {
      workerConcurrency: env.WORKER_CONCURRENCY,
      pollIntervalSeconds: env.POLL_INTERVAL_SECONDS,
      scanTimeoutSeconds: env.SCAN_TIMEOUT_SECONDS,
      reconcileIntervalSeconds: env.RECONCILE_INTERVAL_SECONDS,
      shutdownTimeoutSeconds: env.SHUTDOWN_TIMEOUT_SECONDS,
    };
    this.idempotency = { ttlSeconds: env.IDEMPOTENCY_TTL_SECONDS };
    this.security = {
      apiKeys: env.API_KEYS,
      allowUnauthenticated: env.ALLOW_UNAUTHENTICATED,
      metricsPublic: env.METRICS_PUBLIC,
      targetAllow: env.TARGET_ALLOW,
      targetDeny: env.TARGET_DENY,
      maxTargetAddresses: env.MAX_TARGET_ADDRESSES,
      mcpAllowedOrigins: env.MCP_ALLOWED_ORIGINS,
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
      maxActiveTasksPerClient: env.MAX_ACTIVE_TASKS_PER_CLIENT,
    };
    this.mcp = { sessionIdleSeconds: env.MCP_SESSION_IDLE_SECONDS };
    this.housekeeping = {
      completedTtlDays: env.COMPLETED_TTL_DAYS,
      failedTtlDays: env.FAILED_TTL_DAYS,
      nessusScanRetentionHours: env.NESSUS_SCAN_RETENTION_HOURS,
    };
    this.logLevel = env.LOG_LEVEL;
    this.substitutionEnv = Object.freeze({ ...substitutionEnv });
    Object.freeze(this);
  }

  get consumersEnabled(): boolean {
    return this.mode !== 'api';
  }

  get httpApiEnabled(): boolean {
    return this.mode !== 'worker';
  }

  /** Parses and validates an environment; throws ConfigError naming every bad variable. */
  static fromEnv(
    env: Record<string, string | undefined> = process.env,
    overrides: Record<string, string> = {},
  ): AppConfig {
    const merged = { ...env, ...overrides };
    const input = Object.fromEntries(
      Object.keys(envSchema.shape).map((k) => [k, merged[k] === '' ? undefined : merged[k]]),
    );
    const parsed = envSchema.safeParse(input);
    const problems = parsed.success
      ? []
      : parsed.error.issues.map(
          (i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(input[String(i.path[0])])})`,
        );
    if (merged.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
      problems.push(
        'NODE_TLS_REJECT_UNAUTHORIZED: must not be 0; use tls_verify or ca_file per scanner instead',
      );
    }
    problems.push(...crossFieldProblems(parsed.success ? parsed.data : validFields(input)));
    if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
    return new AppConfig(parsed.data, merged);
  }
}

function isLoopback(host: string): boolean {
  // An address, not a prefix: a host name such as 127.example.com may resolve anywhere.
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/** The variables that parse on their own, so one bad variable does not hide another's problems. */
function validFields(input: Record<string, unknown>): Partial<Env> {
  const valid: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const field = schema.safeParse(input[name]);
    if (field.success) valid[name] = field.data;
  }
  return valid as Partial<Env>;
}

/** Problems between or inside variables that parsed; a check whose inputs did not parse is skipped. */
function crossFieldProblems(env: Partial<Env>): string[] {
  const problems: string[] = [];
  const { API_KEYS, HOST, ALLOW_UNAUTHENTICATED } = env;
  if (API_KEYS?.length === 0 && HOST !== undefined && ALLOW_UNAUTHENTICATED === false && !isLoopback(HOST)) {
    problems.push(
      `HOST: ${HOST} is not a loopback address and API_KEYS is empty; set API_KEYS or ALLOW_UNAUTHENTICATED=true`,
    );
  }
  const {
    IDEMPOTENCY_TTL_SECONDS: keyTtl,
    POLL_INTERVAL_SECONDS: poll,
    RECONCILE_INTERVAL_SECONDS: pass,
  } = env;
  // An unfinished task's key is renewed by its polls (running) or by the reconciler (waiting).
  if (keyTtl !== undefined && poll !== undefined && pass !== undefined && keyTtl < 2 * Math.max(poll, pass)) {
    problems.push(
      `IDEMPOTENCY_TTL_SECONDS: must be at least ${2 * Math.max(poll, pass)}, twice the longer of POLL_INTERVAL_SECONDS and RECONCILE_INTERVAL_SECONDS, which renew keys (got ${keyTtl})`,
    );
  }
  problems.push(...policyListProblems('TARGET_ALLOW', env.TARGET_ALLOW ?? []));
  problems.push(...policyListProblems('TARGET_DENY', env.TARGET_DENY ?? []));
  for (const origin of env.MCP_ALLOWED_ORIGINS ?? []) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(
        `MCP_ALLOWED_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com`,
      );
    }
  }
  for (const entry of API_KEYS ?? []) {
    if (/^[A-Za-z0-9_.-]+:$/.test(entry))
      problems.push(`API_KEYS: the entry named ${entry.slice(0, -1)} has no token`);
  }
  return problems;
}
