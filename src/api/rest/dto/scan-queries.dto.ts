import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import {
  MAX_LIST_LIMIT,
  SCHEMA_PROFILES,
  type SchemaProfile,
  TASK_STATUSES,
  type TaskStatus,
} from '../../../tasks/task';
import { isTargetQuery, TARGET_QUERY_PROBLEM } from '../../../tasks/target-terms';
import { POOL_NAME_PATTERN, POOL_NAME_RULE } from '../../../config/scanners-file';

/** Query of GET /api/v1/scans (list_tasks). */
export class ListScansQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 10, description: 'Newest first.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(MAX_LIST_LIMIT, { message: `must be at most ${MAX_LIST_LIMIT}` })
  limit?: number;

  @ApiPropertyOptional({ enum: TASK_STATUSES, description: 'status_filter of list_tasks.' })
  @IsOptional()
  @IsIn(TASK_STATUSES, { message: `must be one of ${TASK_STATUSES.join(', ')}` })
  status?: TaskStatus;

  @ApiPropertyOptional({ pattern: POOL_NAME_PATTERN.source, example: 'nessus', description: 'scanner_pool.' })
  @IsOptional()
  @Matches(POOL_NAME_PATTERN, { message: POOL_NAME_RULE })
  pool?: string;

  @ApiPropertyOptional({
    maxLength: 256,
    example: '192.0.2.10',
    description:
      'target_filter, CIDR-aware: 10.0.0.5 matches a task on 10.0.0.0/24. An address, CIDR, range or host name.',
  })
  @IsOptional()
  @IsString({ message: 'must be a single value' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  @ValidateBy({
    name: 'isTargetQuery',
    validator: {
      validate: (v: unknown) => isTargetQuery(String(v)),
      defaultMessage: () => TARGET_QUERY_PROBLEM,
    },
  })
  target?: string;
}

/** `?pool=` of GET /api/v1/scanners and /api/v1/queue. */
export class PoolQueryDto {
  @ApiPropertyOptional({
    pattern: POOL_NAME_PATTERN.source,
    example: 'nessus',
    description: 'Default: all pools / the default pool.',
  })
  @IsOptional()
  @Matches(POOL_NAME_PATTERN, { message: POOL_NAME_RULE })
  pool?: string;
}

/** Prefix of the per-field filter parameters of GET /api/v1/scans/:taskId/results. */
export const FILTER_PARAM_PREFIX = 'filter.';

/**
 * Query of GET /api/v1/scans/:taskId/results (get_scan_results) apart from the `filter.<field>` parameters,
 * which ResultsQueryPipe collects before this DTO is validated.
 */
export class ResultsQueryDto {
  @ApiPropertyOptional({
    minimum: 0,
    default: 1,
    description: '1-based page; 0 returns every matching finding.',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must be 0 (all) or a page number' })
  page?: number;

  @ApiPropertyOptional({
    type: Number,
    default: 40,
    description: 'Any integer; clamped to 10-100 (5 gives pages of 10, 500 pages of 100).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  page_size?: number;

  @ApiPropertyOptional({ enum: SCHEMA_PROFILES, description: "Default: the task's schema_profile." })
  @IsOptional()
  @IsIn(SCHEMA_PROFILES, { message: `must be one of ${SCHEMA_PROFILES.join(', ')}` })
  schema_profile?: SchemaProfile;

  @ApiPropertyOptional({
    type: String,
    example: 'host,plugin_id,severity,cve',
    description:
      'Comma-separated field list instead of a profile (only without a non-default schema_profile).',
  })
  @IsOptional()
  @IsString({ message: 'must be a comma-separated list given once' })
  @MaxLength(4000, { message: 'must be at most 4000 characters' })
  custom_fields?: string;

  @ApiPropertyOptional({
    type: String,
    example: '{"severity":">=3","exploit_available":true}',
    description:
      'Filters as one JSON object (AND of field conditions; strings match case-insensitive substrings, numbers ' +
      'take >, >=, <, <= or = prefixes, booleans match exactly, list fields match when any element does). ' +
      'Alternatively pass one query parameter per field: filter.severity=>=3&filter.plugin_name=ssl. ' +
      'Both forms may be combined; a field may appear in only one of them.',
  })
  @IsOptional()
  @IsString({ message: 'must be a JSON object given once' })
  @MaxLength(8000, { message: 'must be at most 8000 characters' })
  filters?: string;
}
