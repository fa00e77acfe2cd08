import { isValidTaskId, newTaskId, TASK_ID_PATTERN } from './task-id';

describe('task ids', () => {
  it('stamps the UTC time and 8 random hex digits', () => {
    const id = newTaskId(new Date('2026-11-28T14:30:22.999Z'));
    expect(id).toMatch(/^ne_scan_20261128_143022_[0-9a-f]{8}$/);
    expect(isValidTaskId(id)).toBe(true);
  });

  it('gives a different id each time within the same second', () => {
    const now = new Date();
    const ids = new Set(Array.from({ length: 200 }, () => newTaskId(now)));
    expect(ids.size).toBe(200);
  });

  it('accepts the SPEC example', () => {
    expect(isValidTaskId('ne_scan_20261128_143022_a1b2c3d4')).toBe(true);
  });

  it.each([
    ['parent traversal', '../../etc/passwd'],
    ['encoded traversal', '%2e%2e%2f'],
    ['encoded backslash traversal', '..%5c'],
    ['absolute path', '/etc/passwd'],
    ['dot segments after the prefix', 'ne_scan_..'],
    ['traversal inside a valid-looking id', 'ne_scan_20261128_143022_../../x'],
    ['slash inside', 'ne_scan_20261128/143022_a1b2c3d4'],
    ['NUL byte', 'ne_scan_20261128_143022_a1b2c3d\0'],
    ['trailing NUL', 'ne_scan_20261128_143022_a1b2c3d4\0'],
    ['trailing newline', 'ne_scan_20261128_143022_a1b2c3d4\n'],
    ['leading space', ' ne_scan_20261128_143022_a1b2c3d4'],
    ['10k characters', 'ne_scan_' + 'a'.repeat(10_000)],
    ['upper-case hex', 'ne_scan_20261128_143022_A1B2C3D4'],
    ['unicode one-dot leader', 'ne_scan_20261128_143022_a1b2c3\u2024\u2024'],
    ['fullwidth digits', 'ne_scan_２０２６1128_143022_a1b2c3d4'],
    ['arabic-indic digits', 'ne_scan_\u0662\u0660\u0662\u0666\u0661\u0661\u0662\u0668_143022_a1b2c3d4'],
    ['cyrillic a look-alike', 'ne_scan_20261128_143022_\u04301b2c3d4'],
    ['short random part', 'ne_scan_20261128_143022_a1b2c3d'],
    ['long random part', 'ne_scan_20261128_143022_a1b2c3d4e'],
    ['empty', ''],
  ])('refuses %s', (_label, id) => {
    expect(isValidTaskId(id)).toBe(false);
  });

  it.each([null, undefined, 42, {}, ['ne_scan_20261128_143022_a1b2c3d4']])(
    'refuses the non-string %p',
    (id) => {
      expect(isValidTaskId(id)).toBe(false);
    },
  );

  it('keeps the exported pattern anchored', () => {
    expect(TASK_ID_PATTERN.test('x/ne_scan_20261128_143022_a1b2c3d4')).toBe(false);
    expect(TASK_ID_PATTERN.test('ne_scan_20261128_143022_a1b2c3d4/..')).toBe(false);
  });
});
