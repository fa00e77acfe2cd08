/* Response shapes for the OpenAPI document; the services return plain objects of the same shape. */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  AUTH_STATUSES,
  SCAN_TYPES,
  TASK_PHASES,
  TASK_STATUSES,
  type AuthenticationStatus,
  type ScanType,
  type TaskPhase,
  type TaskStatus,
} from '../../../tasks/task';

const TASK_ID_EXAMPLE = 'ne_scan_20261128_143022_a1b2c3d4';
const TRACE_ID_EXAMPLE = '7f1c2e9a-51d3-4c41-9b1e-3f0d2a6c8e10';

export class ErrorBodyDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({
    example: 'name: must be 1-256 characters; schema_profile: must be one of minimal, summary, brief, full',
  })
  message!: string;

  @ApiProperty({ nullable: true, example: TRACE_ID_EXAMPLE, type: String })
  trace_id!: string | null;

  @ApiPropertyOptional({
    description: 'Validation errors only: each bad field with what is wrong.',
    type: 'object',
    additionalProperties: { type: 'string' },
    example: {
      name: 'must be 1-256 characters',
      schema_profile: 'must be one of minimal, summary, brief, full',
    },
  })
  fields?: Record<string, string>;
}

export class SubmitResponseDto {
  @ApiProperty({ example: TASK_ID_EXAMPLE })
  task_id!: string;

  @ApiProperty({ example: TRACE_ID_EXAMPLE })
  trace_id!: string;

  @ApiProperty({ enum: TASK_STATUSES, example: 'queued' })
  status!: TaskStatus;

  @ApiProperty({ example: 'nessus' })
  scanner_pool!: string;

  @ApiProperty({ nullable: true, type: String, example: null })
  scanner_instance!: string | null;

  @ApiProperty({ nullable: true, type: Number, example: 1 })
  queue_position!: number | null;

  @ApiProperty({ example: 0 })
  estimated_wait_minutes!: number;

  @ApiProperty({ example: false, description: 'True when the idempotency key returned an earlier task.' })
  idempotent_replay!: boolean;

  @ApiProperty({
    example: `Scan queued on pool nessus at position 1. Poll get_scan_status with task_id ${TASK_ID_EXAMPLE} until it is completed, then call get_scan_results.`,
  })
  message!: string;
}

export class SeverityBreakdownDto {
  @ApiProperty({ example: 2 }) critical!: number;
  @ApiProperty({ example: 5 }) high!: number;
  @ApiProperty({ example: 9 }) medium!: number;
  @ApiProperty({ example: 3 }) low!: number;
  @ApiProperty({ example: 17 }) info!: number;
}

export class ResultsSummaryDto {
  @ApiProperty({ example: 1 })
  hosts_scanned!: number;

  @ApiProperty({ example: 36 })
  total_vulnerabilities!: number;

  @ApiProperty({ type: SeverityBreakdownDto })
  severity_breakdown!: SeverityBreakdownDto;
}

/** get_scan_status: the task fields of SPEC §3. */
export class TaskDto {
  @ApiProperty({ example: TASK_ID_EXAMPLE }) task_id!: string;
  @ApiProperty({ enum: TASK_STATUSES, example: 'running' }) status!: TaskStatus;
  @ApiProperty({ enum: TASK_PHASES, example: 'scanning' }) phase!: TaskPhase;
  @ApiProperty({ minimum: 0, maximum: 100, example: 40 }) progress!: number;
  @ApiProperty({ example: 'nessus' }) scanner_pool!: string;
  @ApiProperty({ nullable: true, type: String, example: 'scanner1' }) scanner_instance!: string | null;
  @ApiProperty({ nullable: true, type: Number, example: 42 }) nessus_scan_id!: number | null;
  @ApiProperty({ example: TRACE_ID_EXAMPLE }) trace_id!: string;
  @ApiProperty({ type: [String], example: ['192.0.2.10'] }) targets!: string[];
  @ApiProperty({ example: 'Weekly DMZ scan' }) name!: string;
  @ApiProperty({ nullable: true, type: String, example: null }) description!: string | null;
  @ApiProperty({ enum: SCAN_TYPES, example: 'untrusted' }) scan_type!: ScanType;
  @ApiProperty({ format: 'date-time', example: '2026-11-28T14:30:22.000Z' }) created_at!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2026-11-28T14:30:24.000Z' })
  started_at!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null }) completed_at!:
    string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) error!: string | null;
  @ApiProperty({ enum: AUTH_STATUSES, example: 'not_applicable' })
  authentication_status!: AuthenticationStatus;
  @ApiProperty({ nullable: true, type: ResultsSummaryDto, description: 'Once completed.' })
  results_summary!: ResultsSummaryDto | null;
}

export class TaskListDto {
  @ApiProperty({ type: [TaskDto] }) tasks!: TaskDto[];
  @ApiProperty({ example: 1, description: 'Tasks matching the filters (the list holds at most `limit`).' })
  total!: number;
}

export class PaginationDto {
  @ApiProperty({ example: 1 }) page!: number;
  @ApiProperty({ example: 40 }) page_size!: number;
  @ApiProperty({ example: 2 }) total_items!: number;
  @ApiProperty({ example: 1 }) total_pages!: number;
  @ApiProperty({ example: false }) has_next!: boolean;
  @ApiProperty({ example: false }) has_previous!: boolean;
  @ApiProperty({ nullable: true, type: Number, example: null }) next_page!: number | null;
}

/**
 * get_scan_results as JSON. With `Accept: application/x-ndjson` the same data comes as JSON lines: a
 * `schema` line, a `scan_metadata` line, one `vulnerability` line per finding and a `pagination` line.
 */
export class ResultsPageDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'profile, fields, field_types, available_fields, sort, severity_scale, untrusted_fields, text_limit_bytes, notice.',
    example: {
      profile: 'minimal',
      fields: ['host', 'plugin_id', 'severity', 'cve', 'cvss_score', 'exploit_available'],
    },
  })
  schema!: Record<string, unknown>;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: {
      task_id: TASK_ID_EXAMPLE,
      name: 'Weekly DMZ scan',
      status: 'completed',
      targets: ['192.0.2.10'],
    },
  })
  scan_metadata!: Record<string, unknown>;

  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    example: [
      {
        host: '192.0.2.10',
        plugin_id: 156032,
        severity: 4,
        cve: ['CVE-2021-44228'],
        cvss_score: 10,
        exploit_available: true,
      },
    ],
  })
  vulnerabilities!: Record<string, unknown>[];

  @ApiProperty({ type: PaginationDto })
  pagination!: PaginationDto;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { severity: '>=4' } })
  filters_applied!: Record<string, unknown>;
}

export class ScannerDto {
  @ApiProperty({ example: 'nessus' }) scanner_type!: string;
  @ApiProperty({ example: 'nessus' }) pool!: string;
  @ApiProperty({ example: 'scanner1' }) instance_id!: string;
  @ApiProperty({ example: 'Nessus Scanner 1' }) name!: string;
  @ApiProperty({ example: 'https://nessus1.example.net:8834' }) url!: string;
  @ApiProperty({ example: true }) enabled!: boolean;
  @ApiProperty({ example: 2 }) max_concurrent_scans!: number;
  @ApiProperty({ example: 1 }) active_scans!: number;
  @ApiProperty({ example: 1 }) available_capacity!: number;
  @ApiProperty({ example: 50 }) utilization_pct!: number;
  @ApiProperty({ example: true }) healthy!: boolean;
}

export class ScannerListDto {
  @ApiProperty({ type: [ScannerDto] }) scanners!: ScannerDto[];
  @ApiProperty({ example: 3 }) total!: number;
  @ApiProperty({ type: [String], example: ['nessus', 'dmz'] }) pools!: string[];
}

export class PoolSummaryDto {
  @ApiProperty({ example: 'nessus' }) name!: string;
  @ApiProperty({ example: true }) is_default!: boolean;
  @ApiProperty({ example: 2 }) total_scanners!: number;
  @ApiProperty({ example: 2 }) enabled_scanners!: number;
  @ApiProperty({ example: 2 }) healthy_scanners!: number;
  @ApiProperty({ example: 4 }) total_capacity!: number;
  @ApiProperty({ example: 1 }) total_active!: number;
  @ApiProperty({ example: 3 }) available_capacity!: number;
  @ApiProperty({ example: 25 }) utilization_pct!: number;
}

export class PoolListDto {
  @ApiProperty({ type: [PoolSummaryDto] }) pools!: PoolSummaryDto[];
  @ApiProperty({ example: 'nessus' }) default_pool!: string;
}

export class PoolStatusDto {
  @ApiProperty({ example: 'nessus' }) pool!: string;
  @ApiProperty({ example: 2 }) total_scanners!: number;
  @ApiProperty({ example: 4 }) total_capacity!: number;
  @ApiProperty({ example: 1 }) total_active!: number;
  @ApiProperty({ example: 3 }) available_capacity!: number;
  @ApiProperty({ example: 25 }) utilization_pct!: number;
  @ApiProperty({ type: [ScannerDto] }) scanners!: ScannerDto[];
}

export class QueuedTaskDto {
  @ApiProperty({ example: TASK_ID_EXAMPLE }) task_id!: string;
  @ApiProperty({ example: 'Weekly DMZ scan' }) name!: string;
  @ApiProperty({ example: 1 }) position!: number;
  @ApiProperty({ format: 'date-time', example: '2026-11-28T14:30:22.000Z' }) created_at!: string;
}

export class QueueStatusDto {
  @ApiProperty({ example: 'nessus' }) pool!: string;
  @ApiProperty({ example: 1, description: 'Tasks waiting for a scanner.' }) queue_depth!: number;
  @ApiProperty({ example: 4 }) running!: number;
  @ApiProperty({ example: 0, description: 'Dead-letter queue size.' }) dlq_size!: number;
  @ApiProperty({ type: [QueuedTaskDto] }) next_tasks!: QueuedTaskDto[];
  @ApiProperty({ format: 'date-time', example: '2026-11-28T14:31:00.000Z' }) timestamp!: string;
}
