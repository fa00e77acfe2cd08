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
import {
  INSTANCE_ID_PATTERN,
  INSTANCE_ID_RULE,
  POOL_NAME_PATTERN,
  POOL_NAME_RULE,
} from '../../../config/scanners-file';
import type { AuthenticatedScanRequest, UntrustedScanRequest } from '../../../scans/scan-submission.service';
import { SUBMISSION_LIMITS } from '../../../scans/submission-limits';
import { SCHEMA_PROFILES, type SchemaProfile } from '../../../tasks/task';

const L = SUBMISSION_LIMITS;

function targetsProblem(value: unknown): string | null {
  if (typeof value === 'string') {
    if (value.trim() === '') return 'at least one target is required';
    return value.length > L.targetsText ? `must be at most ${L.targetsText} characters` : null;
  }
  if (!Array.isArray(value)) return 'must be a string or an array of strings';
  if (value.length === 0) return 'at least one target is required';
  if (value.length > L.targetEntries) return `must have at most ${L.targetEntries} entries`;
  if (value.some((t) => typeof t !== 'string' || t.trim() === ''))
    return 'every entry must be a non-empty string';
  if (value.some((t: string) => t.length > L.targetsText)) {
    return `every entry must be at most ${L.targetsText} characters`;
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
      'white space, or a list. At most 256 targets of at most 255 characters each, expanding to at most ' +
      'MAX_TARGET_ADDRESSES (65536) addresses (400 otherwise). Loopback, link-local, multicast and other ' +
      'denied space is refused (403).',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
    example: '192.0.2.10, 192.0.2.0/28',
  })
  @IsTargets()
  targets!: string | string[];

  @ApiProperty({ minLength: 1, maxLength: L.name, example: 'Weekly DMZ scan' })
  @IsString({ message: 'must be a string' })
  @Length(1, L.name, { message: `must be 1-${L.name} characters` })
  name!: string;

  @ApiPropertyOptional({
    maxLength: L.description,
    nullable: true,
    example: 'Baseline for change ticket CHG-1234',
  })
  @optional
  @IsString({ message: 'must be a string' })
  @MaxLength(L.description, { message: `must be at most ${L.description} characters` })
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
    maxLength: L.idempotencyKey,
    nullable: true,
    description:
      'Same key and same request: the original task is returned (idempotent_replay true). Same key, other ' +
      'request: 409. The Idempotency-Key or X-Idempotency-Key header may be used instead.',
    example: 'dmz-weekly-2026-11-28',
  })
  @optional
  @IsString({ message: 'must be a string' })
  @Length(1, L.idempotencyKey, { message: `must be 1-${L.idempotencyKey} characters` })
  idempotency_key?: string | null;

  @ApiPropertyOptional({ pattern: POOL_NAME_PATTERN.source, nullable: true, example: 'nessus' })
  @optional
  @IsString({ message: 'must be a string' })
  @Matches(POOL_NAME_PATTERN, { message: POOL_NAME_RULE })
  scanner_pool?: string | null;

  @ApiPropertyOptional({ pattern: INSTANCE_ID_PATTERN.source, nullable: true, example: 'scanner1' })
  @optional
  @IsString({ message: 'must be a string' })
  @Matches(INSTANCE_ID_PATTERN, { message: INSTANCE_ID_RULE })
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

  @ApiProperty({ minLength: 1, maxLength: L.sshUsername, example: 'scanuser' })
  @IsString({ message: 'must be a string' })
  @Length(1, L.sshUsername, { message: `must be 1-${L.sshUsername} characters` })
  ssh_username!: string;

  @ApiPropertyOptional({
    format: 'password',
    writeOnly: true,
    maxLength: L.sshPassword,
    description: 'ssh_password or ssh_private_key is required.',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, L.sshPassword, { message: `must be 1-${L.sshPassword} characters` })
  ssh_password?: string;

  @ApiPropertyOptional({
    format: 'password',
    writeOnly: true,
    maxLength: L.sshPrivateKey,
    description: 'PEM private key.',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, L.sshPrivateKey, { message: `must be 1-${L.sshPrivateKey} characters` })
  ssh_private_key?: string;

  @ApiPropertyOptional({
    enum: ELEVATION_METHODS,
    default: 'Nothing',
    description: 'authenticated_privileged needs sudo or su.',
  })
  @IsOptional()
  @IsIn(ELEVATION_METHODS, { message: `must be one of ${ELEVATION_METHODS.join(', ')}` })
  elevate_privileges_with?: (typeof ELEVATION_METHODS)[number];

  @ApiPropertyOptional({ maxLength: L.escalationAccount, example: 'root' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, L.escalationAccount, { message: `must be 1-${L.escalationAccount} characters` })
  escalation_account?: string;

  @ApiPropertyOptional({
    format: 'password',
    writeOnly: true,
    maxLength: L.escalationPassword,
    description: 'Required for su.',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, L.escalationPassword, { message: `must be 1-${L.escalationPassword} characters` })
  escalation_password?: string;
}
