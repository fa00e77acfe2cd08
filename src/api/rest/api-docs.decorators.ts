import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorBodyDto } from './dto/responses.dto';

const TRACE = '7f1c2e9a-51d3-4c41-9b1e-3f0d2a6c8e10';

const ERROR_EXAMPLES: Record<
  number,
  { description: string; error: string; message: string; fields?: Record<string, string> }
> = {
  400: {
    description: 'Validation failed; `fields` names each bad field.',
    error: 'Bad Request',
    message: 'name: must be 1-256 characters; scanner: is not an allowed property',
    fields: { name: 'must be 1-256 characters', scanner: 'is not an allowed property' },
  },
  401: {
    description: 'Missing or unknown API key (when API_KEYS is set).',
    error: 'Unauthorized',
    message: 'an API key is required: send Authorization: Bearer <key>',
  },
  403: {
    description: 'A target is refused by the target policy.',
    error: 'Forbidden',
    message: 'target "127.0.0.1" is not allowed: loopback addresses are denied',
  },
  404: {
    description: "Unknown (or malformed, or another client's) id.",
    error: 'Not Found',
    message: 'task ne_scan_20261128_143022_a1b2c3d4 not found',
  },
  409: {
    description: 'Conflicts with the current state.',
    error: 'Conflict',
    message: 'results are not available: task ne_scan_20261128_143022_a1b2c3d4 is running',
  },
  413: {
    description: 'The body is larger than BODY_LIMIT_BYTES.',
    error: 'Payload Too Large',
    message: 'request entity too large',
  },
  429: {
    description:
      'Over RATE_LIMIT_PER_MINUTE for this API key (see Retry-After), or, for a submission, the client already has MAX_ACTIVE_TASKS_PER_CLIENT queued or running tasks (Retry-After: POLL_INTERVAL_SECONDS).',
    error: 'Too Many Requests',
    message: 'rate limit of 600 requests per minute exceeded; retry after 12 s',
  },
  503: {
    description:
      'Redis or the task storage is unavailable (or DATA_DIR is full), or the results are being rewritten; see Retry-After.',
    error: 'Service Unavailable',
    message: 'the queue is unavailable; retry later',
  },
};

/** Documents the error responses of a route with the `{statusCode, error, message, trace_id}` body. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => {
      const { description, ...example } = ERROR_EXAMPLES[status];
      return ApiResponse({
        status,
        description,
        type: ErrorBodyDto,
        example: { statusCode: status, ...example, trace_id: TRACE },
      });
    }),
  );
}
