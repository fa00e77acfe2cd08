import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { SubmitResponse } from '../../../scans/scan-submission.service';
import type { PublicTask } from '../../../tasks/task';
import { McpCaller } from '../mcp-caller';
import { waitForTerminal } from './scan-progress';
import { McpToolDeps, runTool } from './tool-runner';
import { toolSuccess } from './tool-result';
import { runAuthenticatedScanInput, runUntrustedScanInput, submitOutput } from './tool-schemas';

const SUBMIT_RETURNS =
  'Returns task_id, trace_id, status (queued), scanner_pool, scanner_instance, queue_position (place in the pool line ' +
  'when all scanners are busy), estimated_wait_minutes, idempotent_replay and a message. Next: poll get_scan_status ' +
  'with the task_id every 30-60 s until status is completed, failed, timeout or cancelled, then call get_scan_results ' +
  '(use filters such as {"severity": ">=3"} to narrow the findings). Refused targets, unknown pools and a reused ' +
  'idempotency_key with different arguments come back as errors explaining what to change; so does a submission ' +
  'while this client already has as many queued or running tasks as the service allows (wait for some to finish).';

/** run_untrusted_scan and run_authenticated_scan. */
export function registerScanTools(server: McpServer, deps: McpToolDeps): void {
  server.registerTool(
    'run_untrusted_scan',
    {
      title: 'Run an unauthenticated network scan',
      description: `Queue a Nessus network vulnerability scan (no credentials) of the given targets. ${SUBMIT_RETURNS}`,
      inputSchema: runUntrustedScanInput,
      outputSchema: submitOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args, ctx) =>
      runTool(ctx, deps, 'run_untrusted_scan', async (caller) => {
        const { wait, ...request } = args;
        const submitted = await deps.submissions.submitUntrusted(request, caller);
        return finish(submitted, wait === true, ctx, caller, deps);
      }),
  );

  server.registerTool(
    'run_authenticated_scan',
    {
      title: 'Run an authenticated (SSH) scan',
      description:
        'Queue a credentialed Nessus scan that logs in to the targets over SSH (scan_type authenticated), optionally ' +
        `elevating with sudo or su (authenticated_privileged). Credentials are used for this scan only and never returned. ${SUBMIT_RETURNS} ` +
        'Once completed, get_scan_status shows authentication_status (success, partial or failed).',
      inputSchema: runAuthenticatedScanInput,
      outputSchema: submitOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args, ctx) =>
      runTool(ctx, deps, 'run_authenticated_scan', async (caller) => {
        const { wait, ...request } = args;
        const submitted = await deps.submissions.submitAuthenticated(request, caller);
        return finish(submitted, wait === true, ctx, caller, deps);
      }),
  );
}

/** Without wait (or without a progress token to report on) the submission is the answer. */
async function finish(
  submitted: SubmitResponse,
  wait: boolean,
  ctx: ServerContext,
  caller: McpCaller,
  deps: McpToolDeps,
): Promise<CallToolResult> {
  const token = ctx.mcpReq._meta?.progressToken;
  if (!wait || token === undefined) return toolSuccess(submitOutput, submitted);

  const signal = AbortSignal.any([ctx.mcpReq.signal, deps.shutdown]);
  const started = Date.now();
  const { task, gaveUp } = await waitForTerminal(
    () => deps.queries.status(submitted.task_id, caller.clientId),
    (p) => ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, ...p } }),
    signal,
    deps.wait,
  );
  const waiting = task.phase === 'waiting_for_scanner';
  const final: z.input<typeof submitOutput> = {
    ...submitted,
    status: task.status,
    scanner_instance: task.scanner_instance ?? submitted.scanner_instance,
    queue_position: waiting ? submitted.queue_position : null,
    estimated_wait_minutes: waiting ? submitted.estimated_wait_minutes : 0,
    message: gaveUp ? stillRunning(task, Date.now() - started) : finished(task),
  };
  return toolSuccess(submitOutput, final);
}

function finished(task: PublicTask): string {
  if (task.status === 'completed') {
    const s = task.results_summary;
    const counts = s
      ? `${s.total_vulnerabilities} findings on ${s.hosts_scanned} host(s) (critical ${s.severity_breakdown.critical}, ` +
        `high ${s.severity_breakdown.high}, medium ${s.severity_breakdown.medium}, low ${s.severity_breakdown.low}, ` +
        `info ${s.severity_breakdown.info})`
      : 'results are ready';
    return `Scan completed: ${counts}. Call get_scan_results with task_id ${task.task_id}; filters such as {"severity": ">=3"} narrow the findings.`;
  }
  const why = task.error ? `: ${task.error}` : '';
  return `Scan ended ${task.status}${why}. get_scan_status with task_id ${task.task_id} shows the details.`;
}

function stillRunning(task: PublicTask, waitedMs: number): string {
  const waited =
    waitedMs >= 60_000 ? `${Math.round(waitedMs / 60_000)} minute(s)` : `${Math.round(waitedMs / 1000)} s`;
  return (
    `Still ${task.status} (phase ${task.phase}, ${Math.round(task.progress)}%) after waiting ${waited}. ` +
    `Poll get_scan_status with task_id ${task.task_id} until it is completed.`
  );
}
