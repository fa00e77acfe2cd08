/**
 * Input and output schemas of the ten MCP tools (SPEC §5). Descriptions are static and written for an
 * agent: what to pass, what comes back, what to call next. Output schemas are what the official clients
 * check structuredContent against (their JSON Schema forbids extra properties), so every tool result is
 * shaped by parsing it through its output schema.
 */
import { z } from 'zod';
import {
  INSTANCE_ID_PATTERN,
  INSTANCE_ID_RULE,
  POOL_NAME_PATTERN,
  POOL_NAME_RULE,
} from '../../../config/scanners-file';
import { SUBMISSION_LIMITS as L } from '../../../scans/submission-limits';
import { TASK_ID_PATTERN } from '../../../tasks/task-id';
import { isTargetQuery, TARGET_QUERY_PROBLEM } from '../../../tasks/target-terms';
import {
  AUTH_STATUSES,
  MAX_LIST_LIMIT,
  SCAN_TYPES,
  SCHEMA_PROFILES,
  TASK_PHASES,
  TASK_STATUSES,
} from '../../../tasks/task';

const taskId = z
  .string()
  .regex(TASK_ID_PATTERN, {
    message: 'task_id must be an id as run_untrusted_scan returns it, like ne_scan_20261128_143022_a1b2c3d4',
  })
  .describe(
    'The task_id returned by run_untrusted_scan or run_authenticated_scan, e.g. ne_scan_20261128_143022_a1b2c3d4.',
  );

const poolArg = z
  .string()
  .regex(POOL_NAME_PATTERN, { error: POOL_NAME_RULE })
  .describe('Scanner pool name as listed by list_pools. Omit to use the default pool.');

const profileArg = z
  .enum(SCHEMA_PROFILES)
  .describe(
    'How many fields each finding carries: minimal (host, plugin_id, severity, cve, cvss_score, exploit_available), ' +
      'summary (minimal + plugin_name, cvss3_base_score, synopsis), brief (summary + description, solution; the default), ' +
      'full (every parsed field).',
  );

const untrustedShape = {
  targets: z
    .union([
      z.string().min(1).max(L.targetsText),
      z.array(z.string().min(1).max(L.targetsText)).min(1).max(L.targetEntries),
    ])
    .describe(
      'What to scan: IPv4/IPv6 addresses, CIDRs (10.0.0.0/24), ranges (10.0.0.1-10.0.0.20) or host names, as one ' +
        'comma- or space-separated string or as a list. Loopback, link-local, multicast and other reserved ' +
        'addresses are refused.',
    ),
  name: z.string().min(1).max(L.name).describe('A short human-readable name for the scan.'),
  description: z
    .string()
    .max(L.description)
    .optional()
    .describe('Optional longer description of why the scan runs.'),
  schema_profile: profileArg
    .optional()
    .describe(
      'Default field profile for get_scan_results of this task: minimal, summary, brief (default) or full.',
    ),
  idempotency_key: z
    .string()
    .min(1)
    .max(L.idempotencyKey)
    .optional()
    .describe(
      'Optional key that makes a retry safe: the same key with the same arguments returns the original task ' +
        '(idempotent_replay: true) instead of starting another scan; the same key with different arguments is an error.',
    ),
  scanner_pool: poolArg.optional(),
  scanner_instance: z
    .string()
    .regex(INSTANCE_ID_PATTERN, { error: INSTANCE_ID_RULE })
    .optional()
    .describe('Optional instance_id (see list_scanners) to pin the scan to one scanner of the pool.'),
  wait: z
    .boolean()
    .optional()
    .describe(
      'Default false: return at once with the queued task; then poll get_scan_status. With true AND a progressToken ' +
        'in the request _meta, stay on the call, send progress notifications while the scan runs and return the ' +
        'final status (bounded to 10 minutes; poll get_scan_status after that). Without a progressToken it returns at once.',
    ),
};

export const runUntrustedScanInput = z.strictObject(untrustedShape);

export const runAuthenticatedScanInput = z.strictObject({
  ...untrustedShape,
  scan_type: z
    .enum(['authenticated', 'authenticated_privileged'])
    .describe('authenticated: log in over SSH; authenticated_privileged: also elevate (needs sudo or su).'),
  ssh_username: z.string().min(1).max(L.sshUsername).describe('SSH user the scanner logs in as.'),
  ssh_password: z
    .string()
    .min(1)
    .max(L.sshPassword)
    .optional()
    .describe('SSH password. Give this or ssh_private_key.'),
  ssh_private_key: z
    .string()
    .min(1)
    .max(L.sshPrivateKey)
    .optional()
    .describe('SSH private key (PEM). Give this or ssh_password.'),
  elevate_privileges_with: z
    .enum(['Nothing', 'sudo', 'su'])
    .optional()
    .describe(
      'How to gain root after login: Nothing (default), sudo or su. authenticated_privileged needs sudo or su.',
    ),
  escalation_account: z
    .string()
    .min(1)
    .max(L.escalationAccount)
    .optional()
    .describe('Account to escalate to (default root).'),
  escalation_password: z
    .string()
    .min(1)
    .max(L.escalationPassword)
    .optional()
    .describe('Password for sudo or su; required with su.'),
});

export const taskIdInput = z.strictObject({ task_id: taskId });

export const getScanResultsInput = z.strictObject({
  task_id: taskId,
  page: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'Page number from 1 (default 1); 0 returns every matching finding at once. See pagination.has_next.',
    ),
  page_size: z.number().int().optional().describe('Findings per page, default 40, clamped to 10-100.'),
  schema_profile: profileArg.optional(),
  custom_fields: z
    .array(z.string().min(1).max(64))
    .max(100)
    .optional()
    .describe(
      'Exact list of finding fields to return instead of a profile (e.g. ["host","plugin_id","severity","plugin_output"]). ' +
        'Cannot be combined with a schema_profile other than the task default.',
    ),
  filters: z
    .record(z.string().min(1).max(64), z.union([z.string().max(1024), z.number(), z.boolean()]))
    .optional()
    .describe(
      'AND of field conditions, e.g. {"severity": ">=3", "exploit_available": true, "plugin_name": "ssl"}. ' +
        'Strings match case-insensitive substrings; numbers accept >, >=, <, <=, = prefixes (severity also takes ' +
        'names: info, low, medium, high, critical); booleans match exactly; for lists (cve) any element matching counts.',
    ),
});

export const listTasksInput = z.strictObject({
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_LIST_LIMIT)
    .optional()
    .describe('How many tasks to return, newest first (default 10).'),
  status_filter: z.enum(TASK_STATUSES).optional().describe('Only tasks in this status.'),
  scanner_pool: poolArg.optional().describe('Only tasks of this pool.'),
  target_filter: z
    .string()
    .min(1)
    .max(256)
    .refine(isTargetQuery, { message: TARGET_QUERY_PROBLEM })
    .optional()
    .describe(
      'Only tasks whose targets cover this address, CIDR, range or host name (10.0.0.5 matches a task on 10.0.0.0/24); anything else is refused.',
    ),
});

export const poolInput = z.strictObject({ scanner_pool: poolArg.optional() });

export const emptyInput = z.strictObject({});

// ---- outputs ----

const statusField = z.enum(TASK_STATUSES);

export const submitOutput = z.object({
  task_id: z.string(),
  trace_id: z.string(),
  status: statusField,
  scanner_pool: z.string(),
  scanner_instance: z.string().nullable(),
  queue_position: z.number().int().nullable(),
  estimated_wait_minutes: z.number(),
  idempotent_replay: z.boolean(),
  message: z.string(),
});

const severityBreakdown = z.object({
  critical: z.number().int(),
  high: z.number().int(),
  medium: z.number().int(),
  low: z.number().int(),
  info: z.number().int(),
});

const resultsSummary = z.object({
  hosts_scanned: z.number().int(),
  total_vulnerabilities: z.number().int(),
  severity_breakdown: severityBreakdown,
});

export const taskOutput = z.object({
  task_id: z.string(),
  status: statusField,
  phase: z.enum(TASK_PHASES),
  progress: z.number(),
  scanner_pool: z.string(),
  scanner_instance: z.string().nullable(),
  nessus_scan_id: z.number().int().nullable(),
  trace_id: z.string(),
  targets: z.array(z.string()),
  name: z.string(),
  description: z.string().nullable(),
  scan_type: z.enum(SCAN_TYPES),
  created_at: z.string(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  error: z.string().nullable(),
  authentication_status: z.enum(AUTH_STATUSES),
  results_summary: resultsSummary.nullable(),
});

export const listTasksOutput = z.object({
  tasks: z.array(taskOutput),
  total: z.number().int(),
});

const scannerView = z.object({
  scanner_type: z.literal('nessus'),
  pool: z.string(),
  instance_id: z.string(),
  name: z.string(),
  url: z.string(),
  enabled: z.boolean(),
  max_concurrent_scans: z.number().int(),
  active_scans: z.number().int(),
  available_capacity: z.number().int(),
  utilization_pct: z.number(),
  healthy: z.boolean(),
});

export const listScannersOutput = z.object({
  scanners: z.array(scannerView),
  total: z.number().int(),
  pools: z.array(z.string()),
});

export const listPoolsOutput = z.object({
  pools: z.array(
    z.object({
      name: z.string(),
      is_default: z.boolean(),
      total_scanners: z.number().int(),
      enabled_scanners: z.number().int(),
      healthy_scanners: z.number().int(),
      total_capacity: z.number().int(),
      total_active: z.number().int(),
      available_capacity: z.number().int(),
      utilization_pct: z.number(),
    }),
  ),
  default_pool: z.string(),
});

export const poolStatusOutput = z.object({
  pool: z.string(),
  total_scanners: z.number().int(),
  total_capacity: z.number().int(),
  total_active: z.number().int(),
  available_capacity: z.number().int(),
  utilization_pct: z.number(),
  scanners: z.array(scannerView),
});

export const queueStatusOutput = z.object({
  pool: z.string(),
  queue_depth: z.number().int(),
  running: z.number().int(),
  dlq_size: z.number().int(),
  next_tasks: z.array(
    z.object({ task_id: z.string(), name: z.string(), position: z.number().int(), created_at: z.string() }),
  ),
  timestamp: z.string(),
});

const filterValue = z.union([z.string(), z.number(), z.boolean()]);

/** get_scan_results: the ResultsPage of src/results, the same data as its JSON-NL text. */
export const scanResultsOutput = z.object({
  schema: z.object({
    profile: z.enum([...SCHEMA_PROFILES, 'custom']),
    fields: z.array(z.string()),
    field_types: z.record(z.string(), z.enum(['string', 'number', 'boolean', 'string[]', 'object'])),
    available_fields: z.array(z.string()),
    sort: z.string(),
    severity_scale: z.record(z.string(), z.string()),
    untrusted_fields: z.array(z.string()),
    text_limit_bytes: z.number().int(),
    notice: z.string(),
  }),
  scan_metadata: z.object({
    task_id: z.string(),
    name: z.string(),
    status: statusField,
    scan_type: z.enum(SCAN_TYPES),
    targets: z.array(z.string()),
    scanner_pool: z.string(),
    scanner_instance: z.string().nullable(),
    nessus_scan_id: z.number().int().nullable(),
    trace_id: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    authentication_status: z.enum(AUTH_STATUSES),
    results_summary: resultsSummary,
    report_name: z.string().nullable(),
    policy_name: z.string().nullable(),
  }),
  vulnerabilities: z.array(z.record(z.string(), z.unknown())),
  pagination: z.object({
    page: z.number().int(),
    page_size: z.number().int(),
    total_items: z.number().int(),
    total_pages: z.number().int(),
    has_next: z.boolean(),
    has_previous: z.boolean(),
    next_page: z.number().int().nullable(),
  }),
  filters_applied: z.record(z.string(), filterValue),
});
