import { ValidationError } from '../common/errors';
import { pageWindow } from './paging';

describe('paging', () => {
  it('defaults to page 1 of 40', () => {
    expect(pageWindow(100)).toMatchObject({
      page: 1,
      page_size: 40,
      total_pages: 3,
      start: 0,
      end: 40,
      has_next: true,
    });
  });

  it('clamps page_size to 10–100', () => {
    expect(pageWindow(500, 1, 5).page_size).toBe(10);
    expect(pageWindow(500, 1, 1000).page_size).toBe(100);
    expect(pageWindow(500, 1, 0).page_size).toBe(10);
  });

  it('returns a short last page', () => {
    expect(pageWindow(95, 3, 40)).toMatchObject({
      start: 80,
      end: 95,
      has_next: false,
      has_previous: true,
      total_pages: 3,
    });
  });

  it('returns an empty page past the end rather than an error', () => {
    expect(pageWindow(95, 7, 40)).toMatchObject({ start: 95, end: 95, has_next: false, has_previous: true });
  });

  it('returns everything for page 0', () => {
    expect(pageWindow(250, 0, 10)).toMatchObject({
      page: 0,
      start: 0,
      end: 250,
      total_pages: 1,
      has_next: false,
    });
    expect(pageWindow(0, 0)).toMatchObject({ start: 0, end: 0, total_pages: 0 });
  });

  it('accepts numeric strings from query parameters', () => {
    expect(pageWindow(95, '2', '10')).toMatchObject({ page: 2, start: 10, end: 20 });
  });

  it.each([
    [-1, undefined, 'page'],
    [1.5, undefined, 'page'],
    ['two', undefined, 'page'],
    [1, 'lots', 'page_size'],
  ])('rejects page=%j page_size=%j naming %s', (page, size, field) => {
    try {
      pageWindow(10, page, size);
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect(Object.keys((err as ValidationError).fields)).toEqual([field]);
    }
  });
});
