/**
 * get_scan_results filters (SPEC §5): an AND of field conditions. Strings match case-insensitive
 * substrings; numbers take a `>`, `>=`, `<`, `<=` or `=` prefix (none means `=`); booleans match
 * exactly; for lists any element matching counts. Pure: no framework imports.
 */
import { ValidationError } from '../common/errors';
import { FINDING_FIELDS, type FindingField, SEVERITY_LABELS, isFindingField } from './finding';

export type FilterValue = string | number | boolean;
export type NumberOperator = '>' | '>=' | '<' | '<=' | '=';

export type FilterCondition =
  | { field: FindingField; kind: 'string'; needle: string }
  | { field: FindingField; kind: 'list'; needle: string }
  | { field: FindingField; kind: 'number'; op: NumberOperator; value: number }
  | { field: FindingField; kind: 'boolean'; value: boolean };

const NUMBER_FILTER = /^\s*(>=|<=|>|<|=)?\s*(.*?)\s*$/;

export const FILTERABLE_FIELDS: readonly FindingField[] = (
  Object.keys(FINDING_FIELDS) as FindingField[]
).filter((f) => FINDING_FIELDS[f] !== 'object');

function bad(field: string, message: string): ValidationError {
  return ValidationError.forFields({ [`filters.${field}`]: message });
}

function parseNumberFilter(field: FindingField, raw: FilterValue): { op: NumberOperator; value: number } {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) throw bad(field, 'must be a finite number');
    return { op: '=', value: raw };
  }
  if (typeof raw !== 'string') throw bad(field, 'must be a number or a string such as ">=7.5"');
  const [, op = '=', operand] = NUMBER_FILTER.exec(raw) ?? [];
  let value = operand === '' || operand === undefined ? NaN : Number(operand);
  if (Number.isNaN(value) && field === 'severity') {
    value = (SEVERITY_LABELS as readonly string[]).indexOf((operand ?? '').toLowerCase());
    if (value < 0) value = NaN;
  }
  if (!Number.isFinite(value)) {
    const labels = field === 'severity' ? ` or a severity name (${SEVERITY_LABELS.join(', ')})` : '';
    throw bad(
      field,
      `expected a number${labels}, optionally prefixed by >, >=, <, <= or =; got ${JSON.stringify(raw)}`,
    );
  }
  return { op: op as NumberOperator, value };
}

function parseBooleanFilter(field: FindingField, raw: FilterValue): boolean {
  if (typeof raw === 'boolean') return raw;
  const v = String(raw).trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw bad(field, `expected true or false; got ${JSON.stringify(raw)}`);
}

/** Validates and compiles filters; throws ValidationError naming each bad field. */
export function compileFilters(filters: Record<string, unknown> | undefined | null): FilterCondition[] {
  if (filters === undefined || filters === null) return [];
  if (typeof filters !== 'object' || Array.isArray(filters)) {
    throw ValidationError.forFields({ filters: 'must be an object of field: condition' });
  }
  const conditions: FilterCondition[] = [];
  for (const [field, raw] of Object.entries(filters)) {
    if (!isFindingField(field) || FINDING_FIELDS[field] === 'object') {
      throw bad(field, `unknown filter field; filterable fields: ${FILTERABLE_FIELDS.join(', ')}`);
    }
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      throw bad(field, 'must be a string, a number or a boolean');
    }
    const type = FINDING_FIELDS[field];
    if (type === 'number') conditions.push({ field, kind: 'number', ...parseNumberFilter(field, raw) });
    else if (type === 'boolean')
      conditions.push({ field, kind: 'boolean', value: parseBooleanFilter(field, raw) });
    else
      conditions.push({
        field,
        kind: type === 'string[]' ? 'list' : 'string',
        needle: String(raw).toLowerCase(),
      });
  }
  return conditions;
}

function compare(op: NumberOperator, actual: number, expected: number): boolean {
  switch (op) {
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '=':
      return actual === expected;
  }
}

/** Whether one field value satisfies a condition; a missing value (null) satisfies none. */
export function matchesValue(condition: FilterCondition, value: unknown): boolean {
  switch (condition.kind) {
    case 'string':
      return typeof value === 'string' && value.toLowerCase().includes(condition.needle);
    case 'list':
      return (
        Array.isArray(value) &&
        value.some((v) => typeof v === 'string' && v.toLowerCase().includes(condition.needle))
      );
    case 'number':
      return typeof value === 'number' && compare(condition.op, value, condition.value);
    case 'boolean':
      return value === condition.value;
  }
}

export function matchesAll(conditions: readonly FilterCondition[], row: Record<string, unknown>): boolean {
  return conditions.every((c) => matchesValue(c, row[c.field]));
}
