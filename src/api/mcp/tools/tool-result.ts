/**
 * Tool results of the MCP gateway: a success carries structuredContent (shaped by the tool's output
 * schema) plus a text rendering; a failure is a tool error (isError: true) whose text an agent can act on.
 * Pure: no framework imports.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import { AppError, retryAfterOf, ValidationError } from '../../../common/errors';

/** `_meta` key under which a tool error carries its machine-readable detail. */
export const ERROR_META_KEY = 'nessus-mcp-gateway/error';

/** Machine-readable side of a tool error (in `_meta`; structuredContent stays absent on errors). */
export interface ToolErrorDetail {
  status: number;
  error: string;
  trace_id: string;
  fields?: Record<string, string>;
  retry_after_seconds?: number;
}

/**
 * A successful result. `value` is parsed through the output schema, so structuredContent has exactly the
 * declared fields (the official clients refuse any other); `text` defaults to pretty JSON of it.
 */
export function toolSuccess<S extends z.ZodType>(
  schema: S,
  value: unknown,
  text?: (shaped: z.output<S>) => string,
): CallToolResult {
  const shaped = schema.parse(value) as z.output<S>;
  return {
    content: [{ type: 'text', text: text ? text(shaped) : JSON.stringify(shaped, null, 2) }],
    structuredContent: shaped as Record<string, unknown>,
  };
}

/** A tool error with the given message and detail. structuredContent is left out: it would not match the schema. */
export function toolFailure(message: string, detail: ToolErrorDetail): CallToolResult {
  return {
    content: [{ type: 'text', text: message }],
    isError: true,
    _meta: { [ERROR_META_KEY]: detail },
  };
}

/**
 * Maps a domain error to a tool error: its message is written for the caller. Anything else is a fault of
 * ours, answered with a generic message naming the trace id (the caller logs the error itself).
 */
export function errorResult(err: unknown, traceId: string): CallToolResult {
  if (err instanceof AppError) {
    const detail: ToolErrorDetail = { status: err.status, error: err.error, trace_id: traceId };
    let message = err.message;
    if (err instanceof ValidationError && Object.keys(err.fields).length > 0)
      detail.fields = { ...err.fields };
    const retryAfter = retryAfterOf(err);
    if (retryAfter !== undefined) {
      detail.retry_after_seconds = retryAfter;
      message = `${message} (temporary: retry in ${retryAfter} s)`;
    }
    return toolFailure(message, detail);
  }
  return toolFailure(
    `internal error (trace_id ${traceId}); the request may not have completed, retry or report the trace id`,
    {
      status: 500,
      error: 'Internal Server Error',
      trace_id: traceId,
    },
  );
}
