import type { IncomingMessage } from 'node:http';

/**
 * Deepest array/object nesting a JSON request body may have. Real requests nest a handful of levels (an
 * MCP batch around tools/call arguments with filters is about six); parsing accepts far deeper text, but
 * later recursive walks (validation, the MCP SDK's re-serialisation) would then overflow the stack.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests arrays/objects deeper than `limit`; brackets inside strings do not count. Works on
 * UTF-8 bytes (ASCII bytes never occur inside multi-byte sequences) or on a decoded string.
 */
export function jsonNestedDeeperThan(text: Buffer | string, limit: number): boolean {
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i];
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = at(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** An error body-parser reports like its own (400, JSON error body through HttpErrorFilter). */
class TooDeepError extends Error {
  readonly status = 400;
  readonly statusCode = 400;
  readonly expose = true;
  readonly type = 'entity.too.deep';
}

/** body-parser `verify` hook: refuses a JSON body nested deeper than `limit` before it is parsed. */
export function verifyJsonDepth(limit = MAX_JSON_DEPTH) {
  return (_req: IncomingMessage, _res: unknown, buf: Buffer, encoding: string): void => {
    const utf8 = /^utf-?8$/i.test(encoding);
    const text = utf8 ? buf : new TextDecoder(encoding).decode(buf);
    if (jsonNestedDeeperThan(text, limit)) {
      throw new TooDeepError(`request body nests arrays/objects deeper than ${limit} levels`);
    }
  };
}
