import { ValidationError } from '../common/errors';
import { FINDING_FIELD_NAMES } from './finding';
import { PROFILE_FIELDS, project, selectFields } from './profiles';

describe('schema profiles', () => {
  it('defines each profile as SPEC §5 lists it, each a superset of the previous', () => {
    expect(PROFILE_FIELDS.minimal).toEqual([
      'host',
      'plugin_id',
      'severity',
      'cve',
      'cvss_score',
      'exploit_available',
    ]);
    expect(PROFILE_FIELDS.summary).toEqual([
      ...PROFILE_FIELDS.minimal,
      'plugin_name',
      'cvss3_base_score',
      'synopsis',
    ]);
    expect(PROFILE_FIELDS.brief).toEqual([...PROFILE_FIELDS.summary, 'description', 'solution']);
    expect(PROFILE_FIELDS.full).toEqual(FINDING_FIELD_NAMES);
  });

  it('uses the default profile when none is asked for', () => {
    expect(selectFields(undefined, undefined, 'summary')).toEqual({
      profile: 'summary',
      fields: PROFILE_FIELDS.summary,
    });
    expect(selectFields('full', undefined, 'brief').profile).toBe('full');
  });

  it('lets custom_fields replace the default profile, in the order given', () => {
    expect(selectFields(undefined, ['plugin_output', 'host', 'host'], 'brief')).toEqual({
      profile: 'custom',
      fields: ['plugin_output', 'host'],
    });
    expect(selectFields('brief', ['port'], 'brief').fields).toEqual(['port']);
  });

  it('refuses custom_fields together with a non-default profile', () => {
    expect(() => selectFields('minimal', ['host'], 'brief')).toThrow(/custom_fields: cannot be combined/);
  });

  it('refuses unknown custom fields and profiles, naming the argument', () => {
    expect(() => selectFields(undefined, ['host', 'hostname'], 'brief')).toThrow(
      /custom_fields: unknown field\(s\) "hostname"/,
    );
    expect(() => selectFields('everything', undefined, 'brief')).toThrow(ValidationError);
  });

  it('projects a stored finding onto the selected fields', () => {
    expect(
      project({ host: 'a', severity: 2, description: 'd' }, ['severity', 'host', 'cve', 'solution', 'other']),
    ).toEqual({
      severity: 2,
      host: 'a',
      cve: [],
      solution: null,
      other: {},
    });
  });
});
