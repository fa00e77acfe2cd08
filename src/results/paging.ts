/** Paging of results (SPEC §5): page 1-based, 0 = everything; page_size 40 by default, clamped to 10–100. Pure. */
import { ValidationError } from '../common/errors';

export const DEFAULT_PAGE_SIZE = 40;
export const MIN_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

export interface PageWindow {
  page: number;
  page_size: number;
  total_items: number;
  total_pages: number;
  has_next: boolean;
  has_previous: boolean;
  /** Index of the first item of the page and one past its last, over the filtered items. */
  start: number;
  end: number;
}

function integer(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'string' ? Number(raw.trim()) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw ValidationError.forFields({ [name]: 'must be an integer' });
  return n;
}

export function pageWindow(totalItems: number, rawPage?: unknown, rawPageSize?: unknown): PageWindow {
  const page = integer('page', rawPage, 1);
  if (page < 0) throw ValidationError.forFields({ page: 'must be 0 (all results) or a page number from 1' });
  const requestedSize = integer('page_size', rawPageSize, DEFAULT_PAGE_SIZE);
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(MIN_PAGE_SIZE, requestedSize));

  if (page === 0) {
    return {
      page: 0,
      page_size: totalItems,
      total_items: totalItems,
      total_pages: totalItems > 0 ? 1 : 0,
      has_next: false,
      has_previous: false,
      start: 0,
      end: totalItems,
    };
  }
  const totalPages = Math.ceil(totalItems / pageSize);
  const start = Math.min(totalItems, (page - 1) * pageSize);
  return {
    page,
    page_size: pageSize,
    total_items: totalItems,
    total_pages: totalPages,
    has_next: page < totalPages,
    has_previous: page > 1,
    start,
    end: Math.min(totalItems, start + pageSize),
  };
}
