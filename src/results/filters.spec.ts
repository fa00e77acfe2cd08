import { ValidationError } from '../common/errors';
import { compileFilters, matchesAll } from './filters';

const row = {
  host: 'Web01.example.test',
  plugin_name: 'OpenSSH < 9.6 Multiple Vulnerabilities',
  severity: 3,
  cvss_score: 7.5,
  port: 22,
  exploit_available: true,
  cve: ['CVE-2023-48795', 'CVE-2023-51385'],
  host_fqdn: null,
  vpr_score: null,
};

const matches = (filters: Record<string, string | number | boolean>) =>
  matchesAll(compileFilters(filters), row);

describe('result filters', () => {
  it('matches strings as case-insensitive substrings', () => {
    expect(matches({ host: 'web01' })).toBe(true);
    expect(matches({ plugin_name: 'openssh <' })).toBe(true);
    expect(matches({ host: 'db01' })).toBe(false);
  });

  it.each([
    ['>7', true],
    ['>7.5', false],
    ['>=7.5', true],
    ['<8', true],
    ['<7.5', false],
    ['<=7.5', true],
    ['=7.5', true],
    ['= 7', false],
    ['7.5', true],
  ])('compares numbers with the %s operator', (filter, expected) => {
    expect(matches({ cvss_score: filter })).toBe(expected);
  });

  it('treats a plain number as equality', () => {
    expect(matches({ port: 22 })).toBe(true);
    expect(matches({ port: 443 })).toBe(false);
  });

  it('accepts severity names as well as numbers', () => {
    expect(matches({ severity: 'high' })).toBe(true);
    expect(matches({ severity: '>=critical' })).toBe(false);
    expect(matches({ severity: '>=medium' })).toBe(true);
  });

  it('matches booleans exactly, also when they arrive as query-string text', () => {
    expect(matches({ exploit_available: true })).toBe(true);
    expect(matches({ exploit_available: false })).toBe(false);
    expect(matches({ exploit_available: 'true' })).toBe(true);
    expect(matches({ exploit_available: 'FALSE' })).toBe(false);
  });

  it('matches a list when any element matches', () => {
    expect(matches({ cve: 'cve-2023-51385' })).toBe(true);
    expect(matches({ cve: '48795' })).toBe(true);
    expect(matches({ cve: 'CVE-2024' })).toBe(false);
  });

  it('never matches a missing value', () => {
    expect(matches({ host_fqdn: 'example' })).toBe(false);
    expect(matches({ vpr_score: '>=0' })).toBe(false);
  });

  it('ANDs all conditions', () => {
    expect(matches({ host: 'web', severity: '>=3', cve: '2023' })).toBe(true);
    expect(matches({ host: 'web', severity: '>=4' })).toBe(false);
  });

  it('rejects an unknown field, naming it', () => {
    try {
      compileFilters({ hostname: 'x' });
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).fields).toHaveProperty(['filters.hostname']);
      expect((err as ValidationError).message).toContain('unknown filter field');
    }
  });

  it.each([
    [{ cvss_score: '>>7' }, 'filters.cvss_score'],
    [{ cvss_score: '=>7' }, 'filters.cvss_score'],
    [{ port: 'ssh' }, 'filters.port'],
    [{ severity: '>=severe' }, 'filters.severity'],
    [{ exploit_available: 'yes please' }, 'filters.exploit_available'],
    [{ other: 'x' }, 'filters.other'],
  ])('rejects %j naming %s', (filters, field) => {
    expect(() => compileFilters(filters)).toThrow(ValidationError);
    try {
      compileFilters(filters);
    } catch (err) {
      expect(Object.keys((err as ValidationError).fields)).toEqual([field]);
    }
  });

  it('rejects filters that are not an object of scalars', () => {
    expect(() => compileFilters([] as unknown as Record<string, unknown>)).toThrow(ValidationError);
    expect(() => compileFilters({ host: { $ne: 1 } })).toThrow(ValidationError);
  });
});
