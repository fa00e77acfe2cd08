import { z } from 'zod';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../../common/errors';
import { ERROR_META_KEY, errorResult, toolSuccess } from './tool-result';

describe('tool results', () => {
  const schema = z.object({ a: z.string(), n: z.number().nullable() });

  it('shapes structuredContent to exactly the declared fields and renders text', () => {
    const r = toolSuccess(schema, { a: 'x', n: null, internal: 'secret-ish' });
    expect(r.structuredContent).toEqual({ a: 'x', n: null });
    expect(JSON.parse((r.content[0] as { text: string }).text)).toEqual({ a: 'x', n: null });
    expect(r.isError).toBeUndefined();
  });

  it('refuses a value missing a declared field', () => {
    expect(() => toolSuccess(schema, { a: 'x' })).toThrow();
  });

  it('maps domain errors to tool errors with their message and detail, without structuredContent', () => {
    const r = errorResult(new ConflictError('idempotency key reused with different arguments'), 'tr-1');
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    expect(r.content).toEqual([{ type: 'text', text: 'idempotency key reused with different arguments' }]);
    expect(r._meta?.[ERROR_META_KEY]).toEqual({ status: 409, error: 'Conflict', trace_id: 'tr-1' });

    const v = errorResult(ValidationError.forFields({ page: 'must be an integer' }), 'tr-2');
    expect(v._meta?.[ERROR_META_KEY]).toMatchObject({ status: 400, fields: { page: 'must be an integer' } });

    const u = errorResult(new UnavailableError('Redis is unavailable', 7), 'tr-3');
    expect((u.content[0] as { text: string }).text).toBe('Redis is unavailable (temporary: retry in 7 s)');
    expect(errorResult(new NotFoundError('task x not found'), 't')._meta?.[ERROR_META_KEY]).toMatchObject({
      status: 404,
    });
  });

  it('hides unexpected errors behind a generic message naming the trace id', () => {
    const r = errorResult(new Error('ENOENT /data/tasks/secret/path'), 'tr-9');
    const text = (r.content[0] as { text: string }).text;
    expect(text).toContain('internal error (trace_id tr-9)');
    expect(text).not.toContain('ENOENT');
  });
});
