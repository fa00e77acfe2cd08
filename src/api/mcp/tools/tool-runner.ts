import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import { randomUUID } from 'node:crypto';
import { AppError } from '../../../common/errors';
import { redisOutageAsUnavailable } from '../../../common/redis/redis-failure';
import { runWithTraceFields } from '../../../common/logging/trace-context';
import type { ScanQueries } from '../../../scans/scan-queries.service';
import type { ScanSubmissionService } from '../../../scans/scan-submission.service';
import type { MetricsService } from '../../../metrics/metrics.service';
import type { ScannersService } from '../../../scanners/scanners.service';
import { callerOf, McpCaller } from '../mcp-caller';
import type { WaitOptions } from './scan-progress';
import { errorResult } from './tool-result';

/** Where unexpected tool failures are logged (a Nest Logger fits). */
export interface ToolLogger {
  error(message: string, stack?: string): void;
}

/** The services the tools adapt, the same ones the REST controllers call. */
export interface McpToolDeps {
  submissions: Pick<ScanSubmissionService, 'submitUntrusted' | 'submitAuthenticated'>;
  queries: Pick<ScanQueries, 'status' | 'results' | 'list' | 'cancel' | 'queueStatus'>;
  scanners: Pick<ScannersService, 'listScanners' | 'listPools' | 'poolStatus'>;
  log: ToolLogger;
  /** Where each call's latency is recorded, when metrics are wired. */
  metrics?: Pick<MetricsService, 'toolCall'>;
  wait: WaitOptions;
  /** Aborted when the application shuts down, so waiting tools return instead of holding the shutdown. */
  shutdown: AbortSignal;
}

/**
 * Runs one tool call inside the caller's trace context. Every failure becomes a tool error result, so a
 * bad call never breaks the session: domain errors carry their own message, anything else a generic one
 * naming the trace id, and is logged.
 */
export async function runTool(
  ctx: ServerContext,
  deps: Pick<McpToolDeps, 'log' | 'metrics'>,
  tool: string,
  fn: (caller: McpCaller) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const started = performance.now();
  const result = await callTool(ctx, deps, tool, fn);
  deps.metrics?.toolCall(tool, (performance.now() - started) / 1000, result.isError !== true);
  return result;
}

async function callTool(
  ctx: ServerContext,
  deps: Pick<McpToolDeps, 'log'>,
  tool: string,
  fn: (caller: McpCaller) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  let caller: McpCaller;
  try {
    caller = callerOf(ctx);
  } catch (err) {
    const traceId = randomUUID();
    deps.log.error(`tool ${tool} (trace_id ${traceId}): ${(err as Error).message}`);
    return errorResult(err, traceId);
  }
  return runWithTraceFields({ trace_id: caller.traceId, client_id: caller.clientId }, async () => {
    try {
      return await fn(caller);
    } catch (thrown) {
      const err = redisOutageAsUnavailable(thrown);
      if (!(err instanceof AppError)) {
        deps.log.error(
          `tool ${tool} failed (trace_id ${caller.traceId}): ${(err as Error)?.message}`,
          (err as Error)?.stack,
        );
      }
      return errorResult(err, caller.traceId);
    }
  });
}
