export type NessusErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'auth'
  | 'api_unavailable'
  | 'not_found'
  | 'conflict'
  | 'server'
  | 'bad_response';

/**
 * A failed call to one Nessus scanner. The message names the instance and the operation
 * ("scanner1: launch scan 12 failed: ...") and never carries a credential, token or header.
 * `transient` marks failures worth retrying later: unreachable, timeout, 5xx and 429.
 */
export class NessusError extends Error {
  readonly transient: boolean;

  constructor(
    readonly kind: NessusErrorKind,
    readonly instanceId: string,
    readonly operation: string,
    detail: string,
    readonly httpStatus?: number,
    transient?: boolean,
  ) {
    super(`${instanceId}: ${operation} failed: ${detail}`);
    this.name = 'NessusError';
    this.transient =
      transient ?? (kind === 'unreachable' || kind === 'timeout' || kind === 'server' || httpStatus === 429);
  }
}

/**
 * A failure that asking again a moment later often gets past: a dropped or refused connection, or a
 * scanner briefly overloaded (502-504). Timeouts are left out: a second wait would double the delay.
 */
export function passesOnRetry(err: unknown): boolean {
  if (!(err instanceof NessusError)) return false;
  const status = err.httpStatus ?? 0;
  return err.kind === 'unreachable' || (status >= 502 && status <= 504);
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  // undici: the scanner closed the connection mid-answer
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

/**
 * Maps a transport failure (no HTTP response) by its Node error code. An untrusted certificate is
 * reported as unreachable but not transient: retrying cannot fix a trust configuration.
 */
export function transportError(
  instanceId: string,
  operation: string,
  code: string | undefined,
  message: string,
): NessusError {
  if (code && TLS_CODES.has(code)) {
    return new NessusError(
      'unreachable',
      instanceId,
      operation,
      `TLS certificate not trusted (${code}); set ca_file to the scanner's CA, or tls_verify: false`,
      undefined,
      false,
    );
  }
  if ((code && TIMEOUT_CODES.has(code)) || /timeout/i.test(message)) {
    return new NessusError('timeout', instanceId, operation, `no answer in time (${code ?? 'timeout'})`);
  }
  if (code && UNREACHABLE_CODES.has(code)) {
    return new NessusError('unreachable', instanceId, operation, `scanner unreachable (${code})`);
  }
  return new NessusError(
    'unreachable',
    instanceId,
    operation,
    `connection failed (${code ?? 'unknown error'})`,
  );
}

/** Maps an HTTP error status; `nessusMessage` is the `error` field of Nessus's JSON body. */
export function httpError(
  instanceId: string,
  operation: string,
  status: number,
  nessusMessage: string | undefined,
): NessusError {
  const detail = `HTTP ${status}${nessusMessage ? ` ${JSON.stringify(nessusMessage.slice(0, 200))}` : ''}`;
  if (status === 401 || status === 403) {
    const hint = `authentication failed (${detail}); check its credentials in scanners.yaml`;
    return new NessusError('auth', instanceId, operation, hint, status);
  }
  if (status === 404) return new NessusError('not_found', instanceId, operation, detail, status);
  if (status === 409) return new NessusError('conflict', instanceId, operation, detail, status);
  if (status === 412) {
    return new NessusError(
      'api_unavailable',
      instanceId,
      operation,
      `${detail}: this licence has no scan API; use username/password with api_token auto (Nessus Professional)`,
      status,
    );
  }
  if (status === 429 || status >= 500)
    return new NessusError('server', instanceId, operation, detail, status);
  return new NessusError('bad_response', instanceId, operation, detail, status);
}
