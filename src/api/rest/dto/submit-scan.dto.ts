import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateIf,
  type ValidationOptions,
} from 'class-validator';
import type { AuthenticatedScanRequest, UntrustedScanRequest } from '../../../scans/scan-submission.service';
import { SCHEMA_PROFILES, type SchemaProfile } from '../../../tasks/task';

/** Longest single targets string (the policy counts addresses separately, up to MAX_TARGET_ADDRESSES). */
export const MAX_TARGETS_TEXT = 10_000;
/** Most entries in a targets array. */
export const MAX_TARGET_ENTRIES = 4096;
export const POOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

function targetsProblem(value: unknown): string | null {
  if (typeof value === 'string') {
    if (value.trim() === '') return 'at least one target is required';
    return value.length > MAX_TARGETS_TEXT ? `must be at most ${MAX_TARGETS_TEXT} characters` : null;
  }
  if (!Array.isArray(value)) return 'must be a string or an array of strings';
  if (value.length === 0) return 'at least one target is required';
  if (value.length > MAX_TARGET_ENTRIES) return `must have at most ${MAX_TARGET_ENTRIES} entries`;
  if (value.some((t) => typeof t !== 'string' || t.trim() === ''))
    return 'every entry must be a non-empty string';
  if (value.some((t: string) => t.length > MAX_TARGETS_TEXT)) {
    return `every entry must be at most ${MAX_TARGETS_TEXT} characters`;
  }
  return null;
}

/** `targets`: one string (comma or white space separated) or a non-empty list of strings. */
function IsTargets(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTargets',
      validator: {
        validate: (value: unknown) => targetsProblem(value) === null,
        defaultMessage: (args) => targetsProblem(args?.value) ?? 'is invalid',
      },
    },
    options,
  );
}

const optional = ValidateIf((_o, v) => v !== undefined && v !== null);

/** Body of POST /api/v1/scans: the arguments of run_untrusted_scan (SPEC §5). */
export class UntrustedScanDto implements UntrustedScanRequest {
  @ApiProperty({
    description:
      'IPv4/IPv6 addresses, CIDRs, ranges a.b.c.d-e.f.g.h or host names: one string separated by commas or ' +
      'white space, or a list. Loopback, link-local, multicast and other denied space is refused (403).',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
    example: '192.0.2.10, 192.0.2.0/28',
  })
  @IsTargets()
  targets!: string | string[];

  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Weekly DMZ scan' })
  @IsString({ message: 'must be a string' })
  @Length(1, 200, { message: 'must be 1-200 characters' })
  name!: string;

  @ApiPropertyOptional({ maxLength: 2000, nullable: true, example: 'Baseline for change ticket CHG-1234' })
  @optional
  @IsString({ message: 'must be a string' })
  @MaxLength(2000, { message: 'must be at most 2000 characters' })
  description?: string | null;

  @ApiPropertyOptional({
    enum: SCHEMA_PROFILES,
    default: 'brief',
    description: 'Default field profile of get_scan_results for this task.',
  })
  @IsOptional()
  @IsIn(SCHEMA_PROFILES, { message: `must be one of ${SCHEMA_PROFILES.join(', ')}` })
  schema_profile?: SchemaProfile;

  @ApiPropertyOptional({
    maxLength: 255,
    nullable: true,
    description:
      'Same key and same request: the original task is returned (idempotent_replay true). Same key, other ' +
      'request: 409. The Idempotency-Key or X-Idempotency-Key header may be used instead.',
    example: 'dmz-weekly-2026-11-28',
  })
  @optional
  @IsString({ message: 'must be a string' })
  @Length(1, 255, { message: 'must be 1-255 characters' })
  idempotency_key?: string | null;

  @ApiPropertyOptional({ pattern: POOL_NAME_PATTERN.source, nullable: true, example: 'nessus' })
  @optional
  @IsString({ message: 'must be a string' })
  @Matches(POOL_NAME_PATTERN, { message: 'must be 1-64 of [A-Za-z0-9_-]' })
  scanner_pool?: string | null;

  @ApiPropertyOptional({ pattern: INSTANCE_ID_PATTERN.source, nullable: true, example: 'scanner1' })
  @optional
  @IsString({ message: 'must be a string' })
  @Matches(INSTANCE_ID_PATTERN, { message: 'must be 1-64 of [A-Za-z0-9_.-]' })
  scanner_instance?: string | null;
}

export const AUTH_SCAN_TYPES = ['authenticated', 'authenticated_privileged'] as const;
export const ELEVATION_METHODS = ['Nothing', 'sudo', 'su'] as const;

/**
 * Body of POST /api/v1/scans/authenticated: run_authenticated_scan. Credentials are write-only: they are
 * never returned, logged, or echoed in validation messages.
 */
export class AuthenticatedScanDto extends UntrustedScanDto implements AuthenticatedScanRequest {
  @ApiProperty({ enum: AUTH_SCAN_TYPES, example: 'authenticated' })
  @IsIn(AUTH_SCAN_TYPES, { message: `must be one of ${AUTH_SCAN_TYPES.join(', ')}` })
  scan_type!: (typeof AUTH_SCAN_TYPES)[number];

  @ApiProperty({ minLength: 1, maxLength: 256, example: 'scanuser' })
  @IsString({ message: 'must be a string' })
  @Length(1, 256, { message: 'must be 1-256 characters' })
  ssh_username!: string;

  @ApiPropertyOptional({
    format: 'password',
    writeOnly: true,
    maxLength: 1024,
    description: 'ssh_password or ssh_private_key is required.',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 1024, { message: 'must be 1-1024 characters' })
  ssh_password?: string;

  @ApiPropertyOptional({
    format: 'password',
    writeOnly: true,
    maxLength: 16384,
    description: 'PEM private key.',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 16384, { message: 'must be 1-16384 characters' })
  ssh_private_key?: string;

  @ApiPropertyOptional({
    enum: ELEVATION_METHODS,
    default: 'Nothing',
    description: 'authenticated_privileged needs sudo or su.',
  })
  @IsOptional()
  @IsIn(ELEVATION_METHODS, { message: `must be one of ${ELEVATION_METHODS.join(', ')}` })
  elevate_privileges_with?: (typeof ELEVATION_METHODS)[number];

  @ApiPropertyOptional({ maxLength: 256, example: 'root' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 256, { message: 'must be 1-256 characters' })
  escalation_account?: string;

  @ApiPropertyOptional({
    format: 'password',
    writeOnly: true,
    maxLength: 1024,
    description: 'Required for su.',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 1024, { message: 'must be 1-1024 characters' })
  escalation_password?: string;
}
