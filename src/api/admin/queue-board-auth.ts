import type { NextFunction, Request, Response } from 'express';
import { ApiKey, identifyClient } from '../../security/api-key.guard';

const REALM = 'nessus-mcp-gateway queues';

/**
 * The Authorization header as a Bearer header: Bearer passes as it is, Basic becomes `Bearer <password>`
 * (any user name), so a browser can open the dashboard with its own login prompt.
 */
function asBearer(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const basic = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
  if (!basic) return header;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : `Bearer ${decoded.slice(colon + 1)}`;
}

/**
 * Express middleware in front of Bull Board (which is an express router, not a Nest controller, so the
 * ApiKeyGuard cannot reach it): the same API keys, checked the same way, as a Bearer token or as the
 * password of HTTP Basic. 401 otherwise; with no API_KEYS everything passes, as ApiKeyGuard does.
 */
export function queueBoardAuth(keys: ApiKey[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (keys.length === 0 || identifyClient(asBearer(req.headers.authorization), keys)) {
      next();
      return;
    }
    res.status(401).setHeader('WWW-Authenticate', `Basic realm="${REALM}", Bearer`).json({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'an API key is required: send Authorization: Bearer <key> (or Basic with the key as password)',
    });
  };
}
