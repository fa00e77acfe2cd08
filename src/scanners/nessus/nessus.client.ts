import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FormData, Pool, type Dispatcher } from 'undici';
import { ValidationError, whenStorageFull } from '../../common/errors';
import { NessusError, httpError, passesOnRetry, transportError } from './nessus-errors';
import { buildCreateScanPayload, type NessusScanSpec } from './nessus-scan-settings';
import {
  computeProgress,
  isKnownNessusStatus,
  mapNessusStatus,
  type NessusHostProgress,
  type NessusRunState,
} from './nessus-status';

export type { NessusScanSpec, SshCredentials } from './nessus-scan-settings';
export type { NessusRunState } from './nessus-status';
export { NessusError } from './nessus-errors';

/** Where the client reports things an operator should see (tls_verify off, unknown statuses). */
export interface NessusClientLogger {
  warn(message: string): void;
}

/** Connection settings of one scanner (one entry of scanners.yaml). */
export interface NessusConnectionOptions {
  instanceId: string;
  url: string;
  username?: string;
  password?: string;
  accessKey?: string;
  secretKey?: string;
  /** X-API-Token for Nessus Pro scan writes: auto (fetch from /nessus6.js on a 412), off, or the UUID. Default auto. */
  apiToken?: 'auto' | 'off' | string;
  /** Verify the scanner's TLS certificate. Default true; false only when set explicitly (warned at start). */
  tlsVerify?: boolean;
  /** PEM CA bundle trusted for this scanner, in addition to nothing else. */
  caFile?: string;
  /** Per-call timeout in ms (no answer for that long). Default 15000. */
  timeoutMs?: number;
  logger?: NessusClientLogger;
  /** Told of every finished API call: the operation and 'ok' or the NessusError kind (for metrics). */
  onCall?: (operation: string, outcome: string) => void;
}

export interface NessusScanInfo {
  id: number;
  name: string;
  nessusStatus: string;
  state: NessusRunState;
  progress: number;
  /** The scan has been launched at least once. */
  launched: boolean;
}

export interface NessusScanListEntry {
  id: number;
  name: string;
  nessusStatus: string;
  state: NessusRunState;
  lastModified: number;
}

type Method = Dispatcher.HttpMethod;

/** A scanner's answer: its status, and its body as JSON (undefined when not JSON), text or a stream. */
interface Answer<T = unknown> {
  status: number;
  data: T;
}

interface CallOptions {
  data?: unknown;
  /** Create/launch/stop/delete: subject to the 412 "API is not available" rule. */
  scanWrite?: boolean;
  responseType?: 'json' | 'text' | 'stream';
  /** No session or keys (server status, nessus6.js). */
  anonymous?: boolean;
  headers?: Record<string, string>;
}

const TRASH_FOLDER_ID = 2;
const READ_RETRY_PAUSES_MS = [250, 750];
const UUID_IN_NESSUS6 =
  /key:"getApiToken",value:function\(\)\{return"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"/;

/**
 * HTTP client for one Nessus scanner (NESSUS_API.md). Session or API-key auth, one re-login on 401,
 * the X-API-Token of /nessus6.js fetched on a 412 when apiToken is auto, typed NessusErrors that
 * never carry a credential, and streamed exports.
 */
export class NessusClient {
  readonly instanceId: string;
  /** Keep-alive connections to the scanner's origin; `basePath` is any path its URL has beyond that. */
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly useSession: boolean;
  private readonly timeoutMs: number;
  private readonly logger: NessusClientLogger;
  private sessionToken: string | null = null;
  private login$: Promise<void> | null = null;
  private uiToken: string | null;
  private readonly templateCache = new Map<string, string>();

  constructor(private readonly opts: NessusConnectionOptions) {
    this.instanceId = opts.instanceId;
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.logger = opts.logger ?? { warn: (m) => process.emitWarning(m, 'NessusClient') };
    const hasPassword = !!(opts.username && opts.password);
    const hasKeys = !!(opts.accessKey && opts.secretKey);
    if (!hasPassword && !hasKeys) {
      throw ValidationError.forFields({
        [`${opts.instanceId}.username`]: 'username/password or access_key/secret_key is required',
      });
    }
    this.useSession = hasPassword;
    const mode = opts.apiToken ?? 'auto';
    this.uiToken = mode === 'auto' || mode === 'off' ? null : mode;

    const base = new URL(opts.url);
    this.basePath = base.pathname.replace(/\/+$/, '');
    let tls: { rejectUnauthorized: boolean; ca?: Buffer } | undefined;
    if (base.protocol === 'https:') {
      const verify = opts.tlsVerify !== false;
      if (!verify) {
        this.logger.warn(`${opts.instanceId}: tls_verify is false, the scanner's certificate is not checked`);
      }
      tls = { rejectUnauthorized: verify, ca: opts.caFile ? readFileSync(opts.caFile) : undefined };
    }
    // Timeouts are "no answer for that long": to connect, to the headers, and between body chunks.
    this.pool = new Pool(base.origin, {
      connect: { timeout: this.timeoutMs, ...tls },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** Readiness of the scanner (GET /server/status) and its product/version when it tells them. */
  async serverStatus(): Promise<{ status: string; version?: string; product?: string }> {
    const op = 'server status';
    const res = await this.call<{ status?: string }>(op, 'GET', '/server/status', { anonymous: true });
    const status = typeof res.data?.status === 'string' ? res.data.status : undefined;
    if (!status) throw new NessusError('bad_response', this.instanceId, op, 'no status in the answer');
    const props = await this.call<{ nessus_ui_version?: string; nessus_type?: string }>(
      'server properties',
      'GET',
      '/server/properties',
    ).catch(() => null);
    return { status, version: props?.data?.nessus_ui_version, product: props?.data?.nessus_type };
  }

  /** Creates an on-demand scan (basic network template; SSH credentials when given) and returns its id. */
  async createScan(spec: NessusScanSpec): Promise<number> {
    const op = `create scan ${JSON.stringify(spec.name)}`;
    const template = await this.templateUuid('basic');
    const keyFile = spec.credentials?.privateKey
      ? await this.uploadKey(spec.credentials.privateKey)
      : undefined;
    const payload = buildCreateScanPayload(template, spec, keyFile);
    const res = await this.call<{ scan?: { id?: number } }>(op, 'POST', '/scans', {
      data: payload,
      scanWrite: true,
    });
    const id = Number(res.data?.scan?.id);
    if (!Number.isInteger(id) || id <= 0)
      throw new NessusError('bad_response', this.instanceId, op, 'no scan id');
    return id;
  }

  /** The newest scan with exactly this name outside the trash, so a retried step can adopt it. */
  async findScanByName(name: string): Promise<NessusScanInfo | null> {
    const matches = (await this.listScans()).filter((s) => s.name === name).sort((a, b) => b.id - a.id);
    if (matches.length === 0) return null;
    try {
      return await this.getScan(matches[0].id);
    } catch (err) {
      // deleted between the list and the read
      if (err instanceof NessusError && err.kind === 'not_found') return null;
      throw err;
    }
  }

  async listScans(): Promise<NessusScanListEntry[]> {
    const op = 'list scans';
    type Row = {
      id: number;
      name: string;
      status: string;
      folder_id?: number;
      last_modification_date?: number;
    };
    const res = await this.call<{ scans?: Row[] | null }>(op, 'GET', '/scans');
    if (!res.data || typeof res.data !== 'object')
      throw new NessusError('bad_response', this.instanceId, op, 'no JSON');
    return (res.data.scans ?? [])
      .filter((s) => s.folder_id !== TRASH_FOLDER_ID)
      .map((s) => ({
        id: Number(s.id),
        name: String(s.name),
        nessusStatus: String(s.status),
        state: mapNessusStatus(s.status),
        lastModified: Number(s.last_modification_date ?? 0),
      }));
  }

  /** State and progress of a scan; `expectedHosts` (target addresses) keeps early progress honest. */
  async getScan(id: number, expectedHosts?: number): Promise<NessusScanInfo> {
    const op = `get scan ${id}`;
    type Details = {
      info?: { name?: string; status?: string; progress?: number; uuid?: string | null };
      hosts?: NessusHostProgress[] | null;
      history?: unknown[] | null;
    };
    const res = await this.call<Details>(op, 'GET', `/scans/${id}`);
    const info = res.data?.info;
    if (!info || typeof info.status !== 'string') {
      throw new NessusError('bad_response', this.instanceId, op, 'no info.status in the answer');
    }
    const state = mapNessusStatus(info.status);
    if (!isKnownNessusStatus(info.status)) {
      this.logger.warn(
        `${this.instanceId}: scan ${id} has an unknown Nessus status ${JSON.stringify(info.status)}`,
      );
    }
    return {
      id,
      name: String(info.name ?? ''),
      nessusStatus: info.status,
      state,
      progress: computeProgress(state, res.data.hosts, expectedHosts, info.progress),
      launched: (res.data.history?.length ?? 0) > 0 || !!info.uuid,
    };
  }

  /** Launches a scan. Launching one already pending or running is a conflict (Nessus answers 500 or 409). */
  async launchScan(id: number): Promise<void> {
    const op = `launch scan ${id}`;
    try {
      await this.call(op, 'POST', `/scans/${id}/launch`, { data: {}, scanWrite: true });
    } catch (err) {
      if (err instanceof NessusError && err.kind === 'server' && err.httpStatus === 500) {
        const now = await this.getScan(id).catch(() => null);
        if (now && (now.state === 'pending' || now.state === 'running')) {
          throw new NessusError('conflict', this.instanceId, op, `scan is already ${now.nessusStatus}`, 500);
        }
      }
      throw err;
    }
  }

  /** Stops a scan; a scan that already finished (or never ran) is left as it is without error. */
  async stopScan(id: number): Promise<void> {
    const op = `stop scan ${id}`;
    try {
      await this.call(op, 'POST', `/scans/${id}/stop`, { data: {}, scanWrite: true });
    } catch (err) {
      if (err instanceof NessusError && err.kind === 'conflict') {
        const now = await this.getScan(id);
        if (now.state !== 'pending' && now.state !== 'running') return;
        if (now.nessusStatus === 'stopping') return;
      }
      throw err;
    }
  }

  /**
   * Deletes a scan. An unknown scan counts as deleted (not_found is tolerated, so housekeeping can
   * retry); deleting a scan still in progress is a conflict.
   */
  async deleteScan(id: number): Promise<void> {
    const op = `delete scan ${id}`;
    try {
      await this.call(op, 'DELETE', `/scans/${id}`, { scanWrite: true });
    } catch (err) {
      if (err instanceof NessusError && err.kind === 'not_found') return;
      if (err instanceof NessusError && (err.kind === 'server' || err.kind === 'conflict')) {
        const now = await this.getScan(id).catch(() => null);
        if (now && (now.state === 'pending' || now.state === 'running')) {
          throw new NessusError(
            'conflict',
            this.instanceId,
            op,
            `scan is ${now.nessusStatus}`,
            err.httpStatus,
          );
        }
      }
      throw err;
    }
  }

  /**
   * Exports the scan as .nessus: request, poll until ready, then stream the download to a partial file
   * of its own (`<destPath>.<pid>.<random>.part`) and rename it to `destPath` once complete, so a worker
   * that lost its step to another can neither truncate nor delete the other's download.
   */
  async exportNessus(
    id: number,
    destPath: string,
    opts: { pollIntervalMs?: number; timeoutMs?: number } = {},
  ): Promise<{ bytes: number }> {
    const op = `export scan ${id}`;
    const pollMs = opts.pollIntervalMs ?? 1000;
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60 * 1000);
    const req = await this.call<{ file?: number; token?: string }>(op, 'POST', `/scans/${id}/export`, {
      data: { format: 'nessus' },
    });
    const file = Number(req.data?.file);
    if (!Number.isInteger(file))
      throw new NessusError('bad_response', this.instanceId, op, 'no export file id');

    for (;;) {
      const st = await this.call<{ status?: string }>(op, 'GET', `/scans/${id}/export/${file}/status`);
      const status = st.data?.status;
      if (status === 'ready') break;
      if (status === 'error')
        throw new NessusError('server', this.instanceId, op, 'Nessus reported the export failed');
      if (Date.now() + pollMs > deadline) {
        throw new NessusError(
          'timeout',
          this.instanceId,
          op,
          `export not ready in time (status ${String(status)})`,
        );
      }
      await sleep(pollMs);
    }

    const res = await this.call<Readable>(op, 'GET', `/scans/${id}/export/${file}/download`, {
      responseType: 'stream',
      headers: { Accept: '*/*' },
    });
    const part = `${destPath}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(res.data, counter, createWriteStream(part));
      await rename(part, destPath);
    } catch (err) {
      await unlink(part).catch(() => undefined);
      if (err instanceof NessusError) throw err;
      const e = err as NodeJS.ErrnoException;
      // The pool's body timeout: the scanner sent nothing for timeoutMs.
      if (e.code === 'UND_ERR_BODY_TIMEOUT')
        throw new NessusError('timeout', this.instanceId, op, 'download stalled');
      const full = whenStorageFull(e, `the export of scan ${id}`);
      if (full !== e) throw full;
      if (e.code && /^E(ACCES|PERM|ROFS|NOENT|ISDIR|EXIST)$/.test(e.code)) {
        throw new Error(`${this.instanceId}: ${op} failed: cannot write the export file (${e.code})`);
      }
      throw transportError(this.instanceId, op, e.code, e.message);
    }
    return { bytes };
  }

  close(): void {
    void this.pool.destroy().catch(() => undefined);
  }

  private async templateUuid(name: string): Promise<string> {
    const cached = this.templateCache.get(name);
    if (cached) return cached;
    const op = `resolve scan template ${name}`;
    const res = await this.call<{ templates?: Array<{ name?: string; title?: string; uuid?: string }> }>(
      op,
      'GET',
      '/editor/scan/templates',
    );
    const list = res.data?.templates ?? [];
    const t =
      list.find((x) => x.name === name) ?? list.find((x) => x.title?.toLowerCase() === name.toLowerCase());
    if (!t?.uuid) throw new NessusError('not_found', this.instanceId, op, 'no such template on this scanner');
    this.templateCache.set(name, t.uuid);
    return t.uuid;
  }

  private async uploadKey(privateKey: string): Promise<string> {
    const op = 'upload SSH private key';
    const form = new FormData();
    form.append('Filedata', new Blob([privateKey], { type: 'application/octet-stream' }), 'ssh_key');
    const res = await this.call<{ fileuploaded?: string }>(op, 'POST', '/file/upload', { data: form });
    const name = res.data?.fileuploaded;
    if (!name) throw new NessusError('bad_response', this.instanceId, op, 'no uploaded file name');
    return name;
  }

  private async login(): Promise<void> {
    this.login$ ??= (async () => {
      const op = 'login';
      const res = await this.send(op, 'POST', '/session', {
        data: { username: this.opts.username, password: this.opts.password },
        anonymous: true,
      });
      if (res.status >= 300) throw httpError(this.instanceId, op, res.status, errorText(res.data));
      const token = (res.data as { token?: unknown })?.token;
      if (typeof token !== 'string' || !token)
        throw new NessusError('bad_response', this.instanceId, op, 'no token');
      this.sessionToken = token;
    })().finally(() => {
      this.login$ = null;
    });
    return this.login$;
  }

  private async fetchUiToken(op: string): Promise<boolean> {
    const res = await this.send(op, 'GET', '/nessus6.js', { anonymous: true, headers: { Accept: '*/*' } });
    const m = res.status === 200 && typeof res.data === 'string' ? UUID_IN_NESSUS6.exec(res.data) : null;
    if (!m) return false;
    this.uiToken = m[1];
    return true;
  }

  /** One call; a read that fails in a way that often passes is asked again after a short pause, twice. */
  private async call<T>(op: string, method: Method, path: string, o: CallOptions = {}): Promise<Answer<T>> {
    for (let retry = 0; ; retry++) {
      try {
        const res = await this.authenticatedCall<T>(op, method, path, o);
        this.opts.onCall?.(op, 'ok');
        return res;
      } catch (err) {
        this.opts.onCall?.(op, err instanceof NessusError ? err.kind : 'unknown');
        // Writes are never repeated here: one whose answer was lost may have taken effect.
        if (method !== 'GET' || retry >= READ_RETRY_PAUSES_MS.length || !passesOnRetry(err)) throw err;
        await sleep(READ_RETRY_PAUSES_MS[retry]);
      }
    }
  }

  /** One call with auth, a single re-login on 401 and a single X-API-Token fetch on 412. */
  private async authenticatedCall<T>(
    op: string,
    method: Method,
    path: string,
    o: CallOptions,
  ): Promise<Answer<T>> {
    if (!o.anonymous && this.useSession && !this.sessionToken) await this.login();
    let relogged = false;
    let tokenFetched = false;
    for (;;) {
      const res = await this.send(op, method, path, o);
      if (res.status >= 200 && res.status < 300) return res as Answer<T>;
      if (o.responseType === 'stream') await drainError(res);
      if (res.status === 401 && !o.anonymous && this.useSession && !relogged) {
        relogged = true;
        this.sessionToken = null;
        await this.login();
        continue;
      }
      if (
        res.status === 412 &&
        o.scanWrite &&
        this.useSession &&
        this.opts.apiToken !== 'off' &&
        !tokenFetched
      ) {
        if (this.opts.apiToken === undefined || this.opts.apiToken === 'auto') {
          tokenFetched = true;
          if (await this.fetchUiToken(op)) continue;
        }
      }
      throw httpError(this.instanceId, op, res.status, errorText(res.data));
    }
  }

  private async send(op: string, method: Method, path: string, o: CallOptions): Promise<Answer> {
    const headers: Record<string, string> = { Accept: 'application/json', ...(o.headers ?? {}) };
    if (!o.anonymous) {
      if (this.useSession && this.sessionToken) headers['X-Cookie'] = `token=${this.sessionToken}`;
      else if (!this.useSession)
        headers['X-ApiKeys'] = `accessKey=${this.opts.accessKey}; secretKey=${this.opts.secretKey}`;
      if (this.uiToken && this.opts.apiToken !== 'off') headers['X-API-Token'] = this.uiToken;
    }
    let body: string | FormData | undefined;
    if (o.data instanceof FormData) body = o.data;
    else if (o.data !== undefined) {
      body = JSON.stringify(o.data);
      headers['Content-Type'] = 'application/json';
    }
    try {
      const res = await this.pool.request({ method, path: this.basePath + path, headers, body });
      const kind = o.responseType ?? (path.endsWith('.js') ? 'text' : 'json');
      if (kind === 'stream') return { status: res.statusCode, data: res.body };
      const text = await res.body.text();
      return { status: res.statusCode, data: kind === 'text' ? text : parseJson(text) };
    } catch (err) {
      const e = err as { code?: string; message?: string; cause?: { code?: string } };
      throw transportError(this.instanceId, op, e.code ?? e.cause?.code, String(e.message ?? ''));
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorText(data: unknown): string | undefined {
  if (data && typeof data === 'object' && typeof (data as { error?: unknown }).error === 'string') {
    return (data as { error: string }).error;
  }
  return undefined;
}

/** Reads an error answer that was asked for as a stream, so its `error` field can be reported. */
async function drainError(res: Answer): Promise<void> {
  let text = '';
  for await (const chunk of res.data as Readable) {
    if (text.length < 1024) text += String(chunk);
  }
  res.data = parseJson(text);
}
