import { z } from 'zod';

/** The three process modes of the one image (SPEC §1). */
export const APP_MODES = ['all', 'api', 'worker'] as const;
export type AppMode = (typeof APP_MODES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .default(String(def))
    .refine((v) => /^\d+$/.test(v), { message: 'must be a whole number' })
    .transform(Number)
    .refine((v) => v >= min && v <= max, { message: `must be between ${min} and ${max}` });

const bool = (def: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .default(String(def))
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), { message: 'must be true or false' })
    .transform((v) => ['true', '1', 'yes'].includes(v));

const list = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(/[,\s]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    );

/**
 * Every environment variable the service reads, with its default (SPEC §2 and the operations sections).
 * Parsed once at start; `.env.example` documents each one.
 */
export const envSchema = z.object({
  /** all (default), api or worker. */
  APP_MODE: z.enum(APP_MODES, { message: `must be one of ${APP_MODES.join(', ')}` }).default('all'),
  /** HTTP listen address; the container image sets 0.0.0.0. */
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  /** HTTP listen port. */
  PORT: int(3000, 0, 65535),
  /** Redis for queues, idempotency keys, capacity leases and indexes. rediss:// enables TLS. */
  REDIS_URL: z
    .string()
    .trim()
    .default('redis://127.0.0.1:6379')
    .refine((v) => /^rediss?:\/\//.test(v), { message: 'must start with redis:// or rediss://' }),
  /** Comma-separated host:port list of Redis Sentinels; when set, REDIS_URL only supplies password/db/TLS. */
  REDIS_SENTINELS: list(),
  /** Master name known to the Sentinels. */
  REDIS_SENTINEL_NAME: z.string().trim().default('mymaster'),
  /** Prefix of every key this service writes to Redis (queues included). */
  REDIS_PREFIX: z
    .string()
    .trim()
    .default('nmg')
    .refine((v) => /^[A-Za-z0-9:_{}-]{1,64}$/.test(v), { message: 'must be 1-64 of [A-Za-z0-9:_{}-]' }),
  /** Task directories: the source of truth for tasks and results. */
  DATA_DIR: z.string().trim().min(1).default('./data/tasks'),
  /** Scanner pools file; ${VAR} and ${VAR:-default} are substituted. */
  SCANNER_CONFIG: z.string().trim().min(1).default('./config/scanners.yaml'),
  /** Capacity of scanner entries that omit max_concurrent_scans. */
  MAX_CONCURRENT_SCANS: int(2, 1, 1000),
  /** Jobs one worker process handles at once (not the number of running scans). */
  WORKER_CONCURRENCY: int(20, 1, 1000),
  /** How often a running Nessus scan is polled. */
  POLL_INTERVAL_SECONDS: int(30, 1, 3600),
  /** A scan running longer is stopped on Nessus and ends `timeout`. */
  SCAN_TIMEOUT_SECONDS: int(86400, 1, 30 * 86400),
  /** How long an idempotency key is remembered. */
  IDEMPOTENCY_TTL_SECONDS: int(172800, 1, 365 * 86400),
  /** Comma-separated bearer tokens; optionally `name:token` to name a client in logs. */
  API_KEYS: list(),
  /** Allow listening on a non-loopback HOST without API_KEYS. */
  ALLOW_UNAUTHENTICATED: bool(false),
  /** Serve /metrics without an API key. */
  METRICS_PUBLIC: bool(false),
  /** When set, the only address space scans may target (CIDR list). */
  TARGET_ALLOW: list(),
  /** Address space added to the built-in deny list (CIDR list). */
  TARGET_DENY: list(),
  /** A request whose targets expand past this many addresses is refused. */
  MAX_TARGET_ADDRESSES: int(65536, 1, 16777216),
  /** Extra Origins allowed on the MCP endpoints besides loopback ones (comma-separated). */
  MCP_ALLOWED_ORIGINS: list(),
  /** Idle MCP sessions are closed after this long. */
  MCP_SESSION_IDLE_SECONDS: int(1800, 10, 86400),
  /** Requests per minute per API key (or per address when unauthenticated). */
  RATE_LIMIT_PER_MINUTE: int(600, 1, 1_000_000),
  /** Queued plus running tasks one client may have; a submission past it is 429 (0: no cap). */
  MAX_ACTIVE_TASKS_PER_CLIENT: int(1000, 0, 10_000_000),
  /** Largest accepted request body. */
  BODY_LIMIT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  /** How often the reconciler re-seeds jobs for unfinished tasks (worker mode). */
  RECONCILE_INTERVAL_SECONDS: int(60, 5, 86400),
  /** Bound on in-flight work at SIGTERM. */
  SHUTDOWN_TIMEOUT_SECONDS: int(25, 1, 600),
  /** Completed task directories are deleted after this many days. */
  COMPLETED_TTL_DAYS: int(7, 1, 3650),
  /** Failed, timed-out and cancelled task directories are deleted after this many days. */
  FAILED_TTL_DAYS: int(30, 1, 3650),
  /** Finished scans are deleted from Nessus after this many hours. */
  NESSUS_SCAN_RETENTION_HOURS: int(24, 1, 24 * 3650),
  /** pino level; logs are JSON lines. */
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

export type Env = z.output<typeof envSchema>;
