/** Behaviour of one simulated scanner; every field can be changed at run time through the control API. */
export interface Scenario {
  /** How long a scan stays `running` once it got a slot (0 = completes at the first poll). */
  scanDurationMs: number;
  /** global.max_scans: launched scans beyond it wait in `pending` (0 = unlimited). */
  maxScans: number;
  /** Scanner outage: refuse connections, reset them, or answer 503 (false = up). */
  down: false | 'refuse' | 'reset' | '503';
  /** Session idle timeout; an expired token gets 401 "Invalid Credentials". */
  sessionTtlMs: number;
  /** Nessus Pro behaviour: scan-write calls need a session plus the X-API-Token from /nessus6.js, else 412. */
  requireApiToken: boolean;
  /** The UI token served in /nessus6.js (upper-case 8-4-4-4-12 UUID). */
  apiToken: string;
  /** Launch answers 500 "Failed to launch scan." */
  failLaunch: boolean;
  /** Export status ends in `error` instead of `ready`. */
  failExport: boolean;
  /** How long an export stays `loading`. */
  exportDelayMs: number;
  /** A running scan ends `aborted` after this long (0 = never). */
  abortAfterMs: number;
  /** Delay added before every Nessus API answer (control API excluded). */
  latencyMs: number;
  /**
   * Fraction (0–1) of Nessus API calls answered 503 at random: a read before it is served, a write after
   * it took effect (its answer lost, the worst case for a client that retries).
   */
  errorRate: number;
  /** How long `stopping` lasts before `canceled`. */
  stopDelayMs: number;
  /** Status for launching a scan that is already active: 500 as documented, or 409 as some builds do. */
  launchConflictStatus: 500 | 409;
  /** Server readiness reported by /server/status. */
  serverStatus: 'ready' | 'loading';
  username: string;
  password: string;
  accessKey: string;
  secretKey: string;
  /** What exports contain: a synthetic report for the scan's targets, or the real-world fixture file. */
  exportSource: 'synthetic' | 'fixture';
  fixturePath?: string;
  /** Synthetic report shape. */
  findingsPerHost: number;
  pluginOutputBytes: number;
  /** Host count cap when expanding a scan's targets. */
  maxHostsPerScan: number;
  /** Credential outcome reported for scans created with SSH credentials. */
  credentialedResult: 'success' | 'partial' | 'failed';
}

export const DEFAULT_SCENARIO: Scenario = {
  scanDurationMs: 3000,
  maxScans: 0,
  down: false,
  sessionTtlMs: 30 * 60 * 1000,
  requireApiToken: false,
  apiToken: 'B38F7A9D-6DF8-5967-8DEA-03D1F03684E3',
  failLaunch: false,
  failExport: false,
  exportDelayMs: 300,
  abortAfterMs: 0,
  latencyMs: 0,
  errorRate: 0,
  stopDelayMs: 300,
  launchConflictStatus: 500,
  serverStatus: 'ready',
  username: 'nessus',
  password: 'nessus',
  accessKey: 'a'.repeat(8) + '0123456789abcdef0123456789abcdef0123456789abcdef0123456',
  secretKey: 'b'.repeat(8) + 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9',
  exportSource: 'synthetic',
  findingsPerHost: 24,
  pluginOutputBytes: 0,
  maxHostsPerScan: 256,
  credentialedResult: 'success',
};

const NUMBER_KEYS = [
  'scanDurationMs',
  'maxScans',
  'sessionTtlMs',
  'exportDelayMs',
  'abortAfterMs',
  'latencyMs',
  'errorRate',
  'stopDelayMs',
  'findingsPerHost',
  'pluginOutputBytes',
  'maxHostsPerScan',
] as const;
const BOOLEAN_KEYS = ['requireApiToken', 'failLaunch', 'failExport'] as const;
const STRING_KEYS = ['apiToken', 'username', 'password', 'accessKey', 'secretKey', 'fixturePath'] as const;

/** Validates a partial scenario (from JSON or flags); throws with every problem named. */
export function parseScenarioPatch(input: unknown): Partial<Scenario> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('scenario must be a JSON object');
  }
  const src = input as Record<string, unknown>;
  const out: Partial<Scenario> = {};
  const errors: string[] = [];
  const known = new Set<string>([
    ...NUMBER_KEYS,
    ...BOOLEAN_KEYS,
    ...STRING_KEYS,
    'down',
    'launchConflictStatus',
    'serverStatus',
    'exportSource',
    'credentialedResult',
  ]);
  for (const key of Object.keys(src)) if (!known.has(key)) errors.push(`unknown option ${key}`);
  for (const key of NUMBER_KEYS) {
    if (!(key in src)) continue;
    const v = Number(src[key]);
    if (!Number.isFinite(v) || v < 0) errors.push(`${key} must be a number >= 0`);
    else out[key] = v;
  }
  for (const key of BOOLEAN_KEYS) {
    if (!(key in src)) continue;
    const v = src[key];
    if (typeof v === 'boolean') out[key] = v;
    else if (v === 'true' || v === 'false') out[key] = v === 'true';
    else errors.push(`${key} must be true or false`);
  }
  for (const key of STRING_KEYS) {
    if (!(key in src)) continue;
    if (typeof src[key] !== 'string') errors.push(`${key} must be a string`);
    else out[key] = src[key] as string;
  }
  if (out.errorRate !== undefined && out.errorRate > 1) errors.push('errorRate must be between 0 and 1');
  if ('down' in src) {
    const v = src.down;
    if (v === false || v === 'false') out.down = false;
    else if (v === true || v === 'true') out.down = 'refuse';
    else if (v === 'refuse' || v === 'reset' || v === '503') out.down = v;
    else errors.push('down must be false, true, "refuse", "reset" or "503"');
  }
  if ('launchConflictStatus' in src) {
    const v = Number(src.launchConflictStatus);
    if (v === 500 || v === 409) out.launchConflictStatus = v;
    else errors.push('launchConflictStatus must be 500 or 409');
  }
  if ('serverStatus' in src) {
    if (src.serverStatus === 'ready' || src.serverStatus === 'loading') out.serverStatus = src.serverStatus;
    else errors.push('serverStatus must be ready or loading');
  }
  if ('exportSource' in src) {
    if (src.exportSource === 'synthetic' || src.exportSource === 'fixture')
      out.exportSource = src.exportSource;
    else errors.push('exportSource must be synthetic or fixture');
  }
  if ('credentialedResult' in src) {
    const v = src.credentialedResult;
    if (v === 'success' || v === 'partial' || v === 'failed') out.credentialedResult = v;
    else errors.push('credentialedResult must be success, partial or failed');
  }
  if (errors.length) throw new Error(errors.join('; '));
  return out;
}
