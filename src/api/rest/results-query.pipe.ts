import { Injectable, PipeTransform } from '@nestjs/common';
import { ValidationError } from '../../common/errors';
import type { FilterValue } from '../../results/filters';
import type { ResultsQuery } from '../../results/results-query';
import { FILTER_PARAM_PREFIX, ResultsQueryDto } from './dto/scan-queries.dto';
import { restValidationPipe } from './validation.pipe';

function parseFiltersJson(text: string): Record<string, FilterValue> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw ValidationError.forFields({ filters: 'must be a JSON object such as {"severity":">=3"}' });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw ValidationError.forFields({ filters: 'must be a JSON object such as {"severity":">=3"}' });
  }
  // Values are checked per field by the results service, which names the bad filter field.
  return parsed as Record<string, FilterValue>;
}

/**
 * Turns the query of GET /scans/:taskId/results into a ResultsQuery: `filter.<field>=<condition>` parameters
 * and the `filters` JSON object are merged, `custom_fields` is split on commas, the rest is validated by
 * ResultsQueryDto (unknown parameters refused).
 */
@Injectable()
export class ResultsQueryPipe implements PipeTransform<Record<string, unknown>, Promise<ResultsQuery>> {
  private readonly validation = restValidationPipe();

  async transform(raw: Record<string, unknown>): Promise<ResultsQuery> {
    const rest: Record<string, unknown> = {};
    const fieldFilters: Record<string, FilterValue> = {};
    const problems: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw ?? {})) {
      if (!name.startsWith(FILTER_PARAM_PREFIX)) {
        rest[name] = value;
        continue;
      }
      const field = name.slice(FILTER_PARAM_PREFIX.length);
      if (typeof value !== 'string') problems[name] = 'must be given once';
      else if (field === '') problems[name] = 'name a field: filter.<field>=<condition>';
      else fieldFilters[field] = value;
    }
    if (Object.keys(problems).length) throw ValidationError.forFields(problems);

    const dto = (await this.validation.transform(rest, {
      type: 'query',
      metatype: ResultsQueryDto,
    })) as ResultsQueryDto;
    const jsonFilters = dto.filters === undefined ? {} : parseFiltersJson(dto.filters);
    for (const field of Object.keys(fieldFilters)) {
      if (field in jsonFilters) {
        throw ValidationError.forFields({
          [`${FILTER_PARAM_PREFIX}${field}`]: 'also given in filters; give it once',
        });
      }
    }
    const filters = { ...jsonFilters, ...fieldFilters };

    const query: ResultsQuery = {};
    if (dto.page !== undefined) query.page = dto.page;
    if (dto.page_size !== undefined) query.page_size = dto.page_size;
    if (dto.schema_profile !== undefined) query.schema_profile = dto.schema_profile;
    if (dto.custom_fields !== undefined) {
      query.custom_fields = dto.custom_fields
        .split(',')
        .map((f) => f.trim())
        .filter((f) => f !== '');
    }
    if (Object.keys(filters).length) query.filters = filters;
    return query;
  }
}
