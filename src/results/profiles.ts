/** Schema profiles and custom_fields (SPEC §5): which finding fields a results page carries. Pure. */
import { ValidationError } from '../common/errors';
import { SCHEMA_PROFILES, type SchemaProfile } from '../tasks/task';
import { FINDING_FIELDS, FINDING_FIELD_NAMES, type FindingField, isFindingField } from './finding';

const MINIMAL: readonly FindingField[] = [
  'host',
  'plugin_id',
  'severity',
  'cve',
  'cvss_score',
  'exploit_available',
];
const SUMMARY: readonly FindingField[] = [...MINIMAL, 'plugin_name', 'cvss3_base_score', 'synopsis'];
const BRIEF: readonly FindingField[] = [...SUMMARY, 'description', 'solution'];

export const PROFILE_FIELDS: Readonly<Record<SchemaProfile, readonly FindingField[]>> = {
  minimal: MINIMAL,
  summary: SUMMARY,
  brief: BRIEF,
  full: FINDING_FIELD_NAMES,
};

export interface FieldSelection {
  /** The profile in effect, or 'custom' when custom_fields chose the fields. */
  profile: SchemaProfile | 'custom';
  fields: readonly FindingField[];
}

/**
 * Resolves the requested profile and custom_fields. custom_fields replace the default profile, so
 * naming any other profile alongside them is refused rather than silently ignoring one of the two.
 */
export function selectFields(
  requestedProfile: string | undefined,
  customFields: readonly string[] | undefined,
  defaultProfile: SchemaProfile,
): FieldSelection {
  if (requestedProfile !== undefined && !(SCHEMA_PROFILES as readonly string[]).includes(requestedProfile)) {
    throw ValidationError.forFields({ schema_profile: `must be one of ${SCHEMA_PROFILES.join(', ')}` });
  }
  const profile = (requestedProfile ?? defaultProfile) as SchemaProfile;
  if (customFields === undefined || customFields.length === 0)
    return { profile, fields: PROFILE_FIELDS[profile] };

  if (profile !== defaultProfile) {
    throw ValidationError.forFields({
      custom_fields: `cannot be combined with schema_profile '${profile}'; omit schema_profile (default '${defaultProfile}') or omit custom_fields`,
    });
  }
  if (!Array.isArray(customFields))
    throw ValidationError.forFields({ custom_fields: 'must be a list of field names' });
  const unknown = customFields.filter((f) => typeof f !== 'string' || !isFindingField(f));
  if (unknown.length > 0) {
    throw ValidationError.forFields({
      custom_fields: `unknown field(s) ${unknown.map((f) => JSON.stringify(f)).join(', ')}; known fields: ${FINDING_FIELD_NAMES.join(', ')}`,
    });
  }
  return { profile: 'custom', fields: [...new Set(customFields as FindingField[])] };
}

function emptyValue(field: FindingField): unknown {
  const type = FINDING_FIELDS[field];
  return type === 'string[]' ? [] : type === 'object' ? {} : null;
}

/** The selected fields of a stored finding, in selection order; absent fields are null, [] or {}. */
export function project(
  row: Record<string, unknown>,
  fields: readonly FindingField[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = row[f] ?? emptyValue(f);
  return out;
}
