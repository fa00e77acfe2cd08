import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Outcome of one Nessus API call: `ok`, or the NessusError kind it failed with. */
export type NessusCallOutcome = 'ok' | string;

/** What one housekeeping run did (see HousekeepingService). */
export interface HousekeepingFigures {
  tasks_removed: number;
  bytes_freed: number;
  nessus_scans_deleted: number;
  errors: number;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// wait_for_scan-style tools hold a call for minutes, so the tool histogram reaches further.
const TOOL_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Normalises a NessusClient operation ("launch scan 12", `create scan "orch-…"`) to a low-cardinality
 * label ("launch scan", "create scan"): ids and quoted names would make one series per scan.
 */
export function operationLabel(operation: string): string {
  return (
    operation
      .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
      .replace(/\b\d+\b/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 40) || 'unknown'
  );
}

/**
 * The process's Prometheus registry: default process metrics plus the counters and histograms other
 * modules push into. It has no dependencies, so any provider can inject it; the figures read from
 * Redis at scrape time live in StateGauges.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly transitions = new Counter({
    name: 'nmg_task_transitions_total',
    help: 'Task status changes, by previous and new status (from="none" for a new task).',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });

  private readonly nessusCalls = new Counter({
    name: 'nmg_nessus_api_calls_total',
    help: 'Nessus API calls by scanner, operation and outcome (ok or the error kind).',
    labelNames: ['scanner', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly nessusErrors = new Counter({
    name: 'nmg_nessus_api_errors_total',
    help: 'Failed Nessus API calls by scanner and error kind.',
    labelNames: ['scanner', 'kind'] as const,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'nmg_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  private readonly toolDuration = new Histogram({
    name: 'nmg_mcp_tool_call_duration_seconds',
    help: 'MCP tool call latency by tool and outcome (ok or error).',
    labelNames: ['tool', 'outcome'] as const,
    buckets: TOOL_BUCKETS,
    registers: [this.registry],
  });

  private readonly housekeepingTasks = new Counter({
    name: 'nmg_housekeeping_tasks_removed_total',
    help: 'Task directories removed by housekeeping after their TTL.',
    registers: [this.registry],
  });

  private readonly housekeepingBytes = new Counter({
    name: 'nmg_housekeeping_bytes_freed_total',
    help: 'Bytes of task directories removed by housekeeping.',
    registers: [this.registry],
  });

  private readonly housekeepingScans = new Counter({
    name: 'nmg_housekeeping_nessus_scans_deleted_total',
    help: 'Finished scans deleted from Nessus after NESSUS_SCAN_RETENTION_HOURS.',
    registers: [this.registry],
  });

  private readonly housekeepingErrors = new Counter({
    name: 'nmg_housekeeping_errors_total',
    help: 'Tasks or Nessus scans housekeeping could not remove (retried on the next run).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A task changed status (`from` null: the task was just created). */
  taskTransition(from: string | null, to: string): void {
    this.transitions.inc({ from: from ?? 'none', to });
  }

  /** One Nessus API call finished; `outcome` is 'ok' or the NessusError kind. */
  nessusCall(instanceId: string, operation: string, outcome: NessusCallOutcome): void {
    this.nessusCalls.inc({ scanner: instanceId, operation: operationLabel(operation), outcome });
    if (outcome !== 'ok') this.nessusErrors.inc({ scanner: instanceId, kind: outcome });
  }

  /** One MCP tool call finished after `seconds`. */
  toolCall(tool: string, seconds: number, ok: boolean): void {
    this.toolDuration.observe({ tool, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  /** One HTTP request finished (HttpMetricsMiddleware records every request; exposed for other transports). */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status_code: String(status) }, seconds);
  }

  housekeepingRun(figures: HousekeepingFigures): void {
    this.housekeepingTasks.inc(figures.tasks_removed);
    this.housekeepingBytes.inc(figures.bytes_freed);
    this.housekeepingScans.inc(figures.nessus_scans_deleted);
    this.housekeepingErrors.inc(figures.errors);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of everything registered. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
