import { acceptTraceId } from './trace-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('acceptTraceId', () => {
  it.each([
    'abc-123',
    'Req.42:part_7',
    'x',
    'a'.repeat(128),
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  ])('keeps a sane token %s', (id) => {
    expect(acceptTraceId(id)).toBe(id);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'a'.repeat(129)],
    ['with a space', 'abc def'],
    ['with a line break', 'abc\n'],
    ['with CR/LF injection', 'abc\r\nSet-Cookie: x'],
    ['with a slash', 'a/b'],
    ['non-ASCII', 'trâce'],
    ['with a log-forging brace', '{"level":60}'],
  ])('replaces a trace id that is %s with a new UUID', (_label, header) => {
    const id = acceptTraceId(header);
    expect(id).toMatch(UUID);
    expect(id).not.toBe(header);
  });

  it('gives a new id each time it has to make one', () => {
    expect(acceptTraceId(undefined)).not.toBe(acceptTraceId(undefined));
  });

  it('uses the first value of a repeated header', () => {
    expect(acceptTraceId(['first-1', 'second'])).toBe('first-1');
    expect(acceptTraceId([])).toMatch(UUID);
  });
});
