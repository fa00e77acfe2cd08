import type { McpServer } from '@modelcontextprotocol/server';
import { McpToolDeps, runTool } from './tool-runner';
import { toolSuccess } from './tool-result';
import {
  emptyInput,
  listPoolsOutput,
  listScannersOutput,
  poolInput,
  poolStatusOutput,
  queueStatusOutput,
} from './tool-schemas';

const compact = (value: unknown) => JSON.stringify(value);
const READ_ONLY = { readOnlyHint: true, openWorldHint: false };

/** list_scanners, list_pools, get_pool_status and get_queue_status. */
export function registerInfrastructureTools(server: McpServer, deps: McpToolDeps): void {
  server.registerTool(
    'list_scanners',
    {
      title: 'List Nessus scanners',
      description:
        'The Nessus scanners this service can use, optionally of one pool: instance_id, name, url, enabled, ' +
        'max_concurrent_scans, active_scans, available_capacity, utilization_pct and healthy. Pass an instance_id ' +
        'as scanner_instance to pin a scan to one scanner. An unknown pool is an error listing the pools.',
      inputSchema: poolInput,
      outputSchema: listScannersOutput,
      annotations: READ_ONLY,
    },
    (args, ctx) =>
      runTool(ctx, deps, 'list_scanners', async () =>
        toolSuccess(listScannersOutput, await deps.scanners.listScanners(args.scanner_pool), compact),
      ),
  );

  server.registerTool(
    'list_pools',
    {
      title: 'List scanner pools',
      description:
        'The scanner pools with their capacity (total, active, available, utilization) and which one is the ' +
        'default. Pass a pool name as scanner_pool to the scan tools to choose where a scan runs.',
      inputSchema: emptyInput,
      outputSchema: listPoolsOutput,
      annotations: READ_ONLY,
    },
    (_args, ctx) =>
      runTool(ctx, deps, 'list_pools', async () =>
        toolSuccess(listPoolsOutput, await deps.scanners.listPools(), compact),
      ),
  );

  server.registerTool(
    'get_pool_status',
    {
      title: 'Get pool capacity',
      description:
        'Capacity of one pool (default: the default pool): total_scanners, total_capacity, total_active, ' +
        'available_capacity, utilization_pct and its scanners. available_capacity 0 means a new scan waits in the ' +
        'queue; see get_queue_status for the line.',
      inputSchema: poolInput,
      outputSchema: poolStatusOutput,
      annotations: READ_ONLY,
    },
    (args, ctx) =>
      runTool(ctx, deps, 'get_pool_status', async () =>
        toolSuccess(poolStatusOutput, await deps.scanners.poolStatus(args.scanner_pool), compact),
      ),
  );

  server.registerTool(
    'get_queue_status',
    {
      title: 'Get the queue of a pool',
      description:
        'The waiting line of one pool (default: the default pool): queue_depth (tasks waiting for a scanner), ' +
        'running scans, dlq_size (tasks that failed permanently in the queue), the next tasks in line and a ' +
        'timestamp. Use it to judge how long a new scan would wait.',
      inputSchema: poolInput,
      outputSchema: queueStatusOutput,
      annotations: READ_ONLY,
    },
    (args, ctx) =>
      runTool(ctx, deps, 'get_queue_status', async () =>
        toolSuccess(queueStatusOutput, await deps.queries.queueStatus(args.scanner_pool), compact),
      ),
  );
}
