/** What replaces a secret wherever one is removed. */
export const REDACTED = '[REDACTED]';

/** Keys whose values are credentials in our payloads (scan requests, Nessus bodies, scanner config). */
const SECRET_KEYS = [
  'password',
  'ssh_password',
  'escalation_password',
  'ssh_private_key',
  'private_key',
  'passphrase',
  'secret_key',
  'secretKey',
  'access_key',
  'accessKey',
  'api_key',
  'apiKey',
  'api_keys',
  'apiKeys',
  'token',
  'access_token',
  'refresh_token',
  'authorization',
  'Authorization',
  'cookie',
  'credentials',
];

/** Request and response headers that carry credentials (ours and Nessus'). */
const SECRET_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-apikeys',
  'x-api-key',
  'x-cookie',
  'x-api-token',
];

/** Header spellings as axios-style HTTP-client errors keep them in their request config (NessusErrors carry none). */
const CLIENT_HEADERS = ['Authorization', 'X-ApiKeys', 'X-Cookie', 'X-API-Token', 'Cookie', ...SECRET_HEADERS];

const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`);

function errorPaths(root: string): string[] {
  return [
    ...CLIENT_HEADERS.map((h) => `${root}.config.headers${key(h)}`),
    // the body sent to Nessus may hold scan credentials; the raw request object holds the header block as text
    `${root}.config.data`,
    `${root}.config.auth`,
    `${root}.request`,
    `${root}.response.config`,
    `${root}.response.request`,
  ];
}

/**
 * pino `redact.paths`: credential headers of requests and responses, credential headers and bodies of
 * HTTP-client errors, and secret keys up to three levels deep in any logged object. Deeper structures
 * must pass through redactSecrets() before they are logged.
 */
export const REDACT_PATHS: string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers${key(h)}`, `res.headers${key(h)}`, `headers${key(h)}`]),
  ...errorPaths('err'),
  ...errorPaths('error'),
  ...SECRET_KEYS.flatMap((k) => [k, `*${key(k)}`, `*.*${key(k)}`]),
];

const SECRET_KEY_PATTERN =
  /password|passwd|passphrase|secret|privatekey|apikey|accesskey|token|authorization|cookie|credential/;

/** Whether a property name (any case, `_`/`-` ignored) holds a secret. */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY_PATTERN.test(name.toLowerCase().replace(/[-_\s]/g, ''));
}

const TEXT_RULES: Array<[RegExp, string]> = [
  [/\b(accessKey|secretKey)\s*=\s*[^;\s"',]+/gi, `$1=${REDACTED}`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  [
    /\b(token|password|passwd|secret|secret_key|access_key|api_key|apikey)\s*([=:])\s*[^;\s"'&,]+/gi,
    `$1$2${REDACTED}`,
  ],
  // user:password@ in URLs (redis://:pw@host, https://u:pw@nessus)
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^:/@\s]*):([^@/\s]+)@/gi, `$1$2:${REDACTED}@`],
];

/** Removes credentials written inline in text: X-ApiKeys values, bearer tokens, key=value secrets, URL passwords. */
export function redactText(text: string): string {
  return TEXT_RULES.reduce((s, [pattern, replacement]) => s.replace(pattern, replacement), text);
}

/**
 * A deep copy of `value` with every value under a secret-looking key replaced by "[REDACTED]" and inline
 * secrets removed from strings; Error objects become plain objects (name, message, stack and own fields).
 * For error messages, job data and debug dumps; the input is not modified.
 */
export function redactSecrets<T>(value: T): T {
  return copy(value, new Set(), 0) as T;
}

function copy(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth > 32) return '[Truncated]';
  if (value instanceof Date) return new Date(value.getTime());
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[Binary ${value.byteLength} bytes]`;
  ancestors.add(value);
  try {
    const inner = (v: unknown) => copy(v, ancestors, depth + 1);
    if (Array.isArray(value)) return value.map(inner);
    if (value instanceof Map) {
      return new Map(
        [...value].map(([k, v]) => [k, typeof k === 'string' && isSecretKey(k) ? REDACTED : inner(v)]),
      );
    }
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = redactText(value.message);
      if (value.stack) out.stack = redactText(value.stack);
      if (value.cause !== undefined) out.cause = inner(value.cause);
    }
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : inner(v);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}
