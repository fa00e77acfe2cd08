import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import ipaddr from 'ipaddr.js';
import { AppConfig } from '../config/app-config';
import { ClientRequest } from './api-key.guard';

function isLoopbackHostname(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(name)) return false;
  return ipaddr.process(name).range() === 'loopback';
}

function parseOrigin(value: string): URL | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/**
 * Whether a browser `Origin` may call the MCP endpoints: absent (non-browser clients) or a loopback origin
 * (localhost, 127.0.0.0/8, [::1], any port) or one listed in MCP_ALLOWED_ORIGINS (scheme, host and port).
 * "null" and anything unparseable are refused.
 */
export function isAllowedOrigin(origin: string | string[] | undefined, allowed: string[]): boolean {
  if (origin === undefined) return true;
  if (typeof origin !== 'string') return false;
  const url = parseOrigin(origin.trim());
  if (!url) return false;
  if (isLoopbackHostname(url.hostname)) return true;
  return allowed.some((entry) => parseOrigin(entry)?.origin === url.origin);
}

/**
 * Whether a `Host` header names this service in local mode: a loopback name or address, or the host of an
 * MCP_ALLOWED_ORIGINS entry. Same-origin GETs after DNS rebinding carry no Origin, only the attacker's Host.
 */
export function isAllowedHost(host: string | string[] | undefined, allowedOrigins: string[]): boolean {
  if (typeof host !== 'string' || host.length === 0 || /[@/?#\\\s]/.test(host)) return false;
  const url = parseOrigin(`http://${host}`);
  if (!url) return false;
  if (isLoopbackHostname(url.hostname)) return true;
  return allowedOrigins.some((entry) => parseOrigin(entry)?.hostname === url.hostname);
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

/**
 * DNS-rebinding protection for /mcp, /sse and /messages (MCP transport spec: an invalid Origin gets 403).
 * When the service runs unauthenticated on a loopback address, the Host header must also be a loopback
 * (or explicitly allowed) host, since a rebound same-origin GET sends no Origin at all.
 */
@Injectable()
export class OriginGuard implements CanActivate {
  private readonly allowed: string[];
  private readonly checkHost: boolean;

  constructor(config: AppConfig) {
    this.allowed = config.security.mcpAllowedOrigins;
    this.checkHost = config.security.apiKeys.length === 0 && isLoopbackHostname(config.http.host);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const { origin, host } = context.switchToHttp().getRequest<ClientRequest>().headers;
    if (!isAllowedOrigin(origin, this.allowed)) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        message: `Origin ${JSON.stringify(clip(String(origin)))} is not allowed; add it to MCP_ALLOWED_ORIGINS`,
      });
    }
    if (this.checkHost && !isAllowedHost(host, this.allowed)) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        message: `Host ${JSON.stringify(clip(String(host)))} is not allowed for a service listening on loopback`,
      });
    }
    return true;
  }
}
