import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Scenario } from './scenario';

export const NO_CREDENTIALS = 'You need to log in to perform this request';
export const INVALID_CREDENTIALS = 'Invalid Credentials';
export const API_NOT_AVAILABLE = 'API is not available';

export type AuthResult =
  | { ok: true; via: 'session' | 'keys'; hasUiToken: boolean }
  | { ok: false; status: 401 | 412; error: string };

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Parses `accessKey=…; secretKey=…` leniently (NESSUS_API.md §1.4). */
export function parseApiKeys(value: string): { accessKey?: string; secretKey?: string } {
  const out: { accessKey?: string; secretKey?: string } = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim().toLowerCase();
    const v = part.slice(eq + 1).trim();
    if (k === 'accesskey') out.accessKey = v;
    if (k === 'secretkey') out.secretKey = v;
  }
  return out;
}

/** Sessions (`X-Cookie: token=…`, idle timeout), API keys and the UI token rule of NESSUS_API.md §1. */
export class AuthService {
  private sessions = new Map<string, { username: string; lastSeen: number }>();

  constructor(private readonly scenario: () => Scenario) {}

  login(username: unknown, password: unknown): string | null {
    const sc = this.scenario();
    if (typeof username !== 'string' || typeof password !== 'string') return null;
    if (!same(username, sc.username) || !same(password, sc.password)) return null;
    const token = randomBytes(24).toString('hex');
    this.sessions.set(token, { username, lastSeen: Date.now() });
    return token;
  }

  logout(headers: HeaderBag): boolean {
    const token = this.sessionToken(headers);
    return token !== undefined && this.sessions.delete(token);
  }

  expireAll(): void {
    this.sessions.clear();
  }

  sessionUser(headers: HeaderBag): string | null {
    const token = this.sessionToken(headers);
    const s = token ? this.live(token) : undefined;
    return s ? s.username : null;
  }

  regenerateKeys(): { accessKey: string; secretKey: string } {
    return { accessKey: randomBytes(32).toString('hex'), secretKey: randomBytes(32).toString('hex') };
  }

  /**
   * Authenticates a request. `scanWrite` applies the Pro licence rule: without scan_api, create,
   * launch, stop and delete need a session plus the matching X-API-Token, else 412.
   */
  check(headers: HeaderBag, scanWrite: boolean): AuthResult {
    const sc = this.scenario();
    const token = this.sessionToken(headers);
    const keysHeader = header(headers, 'x-apikeys');
    const uiToken = header(headers, 'x-api-token');
    const hasUiToken = uiToken !== undefined && uiToken.toUpperCase() === sc.apiToken.toUpperCase();
    let via: 'session' | 'keys' | undefined;
    if (token !== undefined) {
      if (this.live(token)) via = 'session';
    }
    if (!via && keysHeader) {
      const keys = parseApiKeys(keysHeader);
      if (
        keys.accessKey &&
        keys.secretKey &&
        same(keys.accessKey, sc.accessKey) &&
        same(keys.secretKey, sc.secretKey)
      ) {
        via = 'keys';
      }
    }
    if (!via) {
      const presented = token !== undefined || keysHeader !== undefined;
      return { ok: false, status: 401, error: presented ? INVALID_CREDENTIALS : NO_CREDENTIALS };
    }
    if (scanWrite && sc.requireApiToken && !(via === 'session' && hasUiToken)) {
      return { ok: false, status: 412, error: API_NOT_AVAILABLE };
    }
    return { ok: true, via, hasUiToken };
  }

  private live(token: string): { username: string; lastSeen: number } | undefined {
    const s = this.sessions.get(token);
    if (!s) return undefined;
    const now = Date.now();
    if (now - s.lastSeen > this.scenario().sessionTtlMs) {
      this.sessions.delete(token);
      return undefined;
    }
    s.lastSeen = now;
    return s;
  }

  private sessionToken(headers: HeaderBag): string | undefined {
    const cookie = header(headers, 'x-cookie');
    if (!cookie) return undefined;
    const m = /(?:^|;\s*)token=([^;\s]*)/.exec(cookie);
    return m ? m[1] : undefined;
  }
}

/** The web UI bundle with the token fragment every known extraction pattern accepts (§1.5). */
export function nessus6Js(apiToken: string, version: string): string {
  return [
    '/*! nessus6.js (simulated web UI bundle) */',
    '!function(e){var t={};function o(n){return t[n]}o.m=e}([]);',
    'var _Utils=function(){};(0,o.default)(_Utils,[',
    `{key:"getApiToken",value:function(){return"${apiToken.toUpperCase()}"}},{key:"getVersion",value:function(){return"${version}"}}]);`,
    'this.CUSTOM_SCAN_TEMPLATE="ab4bacd2-05f6-425c-9d79-3ba3940ad1c24e51e1f403febe40",this.CUSTOM_AGENT_TEMPLATE="e785b26c-5b4d-5da8-6643-007ea1f8ee1c8f23937a4bd45a1d";',
    '',
  ].join('\n');
}
