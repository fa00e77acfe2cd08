import {
  applyDecorators,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
  StreamableFile,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { renderJsonl, type ResultsQuery } from '../../results/results-query';
import { ScanQueries } from '../../scans/scan-queries.service';
import { CallerContext, ScanSubmissionService, SubmitResponse } from '../../scans/scan-submission.service';
import { ApiKeyGuard, ClientId } from '../../security/api-key.guard';
import { ClientRateLimitGuard } from '../../security/rate-limit';
import { ApiErrors } from './api-docs.decorators';
import { ListScansQueryDto, ResultsQueryDto } from './dto/scan-queries.dto';
import { ResultsPageDto, SubmitResponseDto, TaskDto, TaskListDto } from './dto/responses.dto';
import { AuthenticatedScanDto, UntrustedScanDto } from './dto/submit-scan.dto';
import { ResultsQueryPipe } from './results-query.pipe';
import { restValidationPipe } from './validation.pipe';

type TracedRequest = Request & { traceId?: string };

export const NDJSON = 'application/x-ndjson';

const TASK_ID_PARAM = {
  name: 'taskId',
  description: 'Task id as returned on submission.',
  example: 'ne_scan_20261128_143022_a1b2c3d4',
};

/** The DTO's own fields that were given: class instances carry declared-but-absent fields as undefined. */
function given<T extends object>(dto: T): T {
  return Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined)) as T;
}

function callerContext(req: TracedRequest, clientId: string): CallerContext {
  return {
    clientId,
    traceId: req.traceId ?? '',
    idempotencyHeader: req.headers['idempotency-key'],
    xIdempotencyHeader: req.headers['x-idempotency-key'],
  };
}

const ApiSubmitHeaders = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'Replays return the original task; the same key with another request is 409.',
    }),
    ApiHeader({ name: 'X-Idempotency-Key', required: false, description: 'Alias of Idempotency-Key.' }),
    ApiHeader({
      name: 'X-Trace-Id',
      required: false,
      description:
        'Kept when ≤ 128 of [A-Za-z0-9._:-], otherwise replaced by a UUID; echoed on every response.',
    }),
  );

/** SPEC §6 scan routes: thin HTTP bindings of the scan services shared with the MCP tools. */
@ApiTags('scans')
@ApiBearerAuth()
@ApiErrors(401, 429, 503)
@Controller('api/v1/scans')
@UseGuards(ApiKeyGuard, ClientRateLimitGuard)
@UsePipes(restValidationPipe())
export class ScansController {
  constructor(
    private readonly submission: ScanSubmissionService,
    private readonly queries: ScanQueries,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue an unauthenticated (network) scan', operationId: 'run_untrusted_scan' })
  @ApiSubmitHeaders()
  @ApiAcceptedResponse({
    type: SubmitResponseDto,
    description: 'Queued (or an idempotent replay of an earlier submission).',
  })
  @ApiErrors(400, 403, 409, 413)
  submitUntrusted(
    @Body() body: UntrustedScanDto,
    @ClientId() clientId: string,
    @Req() req: TracedRequest,
  ): Promise<SubmitResponse> {
    return this.submission.submitUntrusted(given(body), callerContext(req, clientId));
  }

  @Post('authenticated')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Queue an authenticated (SSH credentialed) scan',
    description:
      'Credentials are held in Redis only until the Nessus scan holding them exists; never returned or logged.',
    operationId: 'run_authenticated_scan',
  })
  @ApiSubmitHeaders()
  @ApiAcceptedResponse({ type: SubmitResponseDto, description: 'Queued (or an idempotent replay).' })
  @ApiErrors(400, 403, 409, 413)
  submitAuthenticated(
    @Body() body: AuthenticatedScanDto,
    @ClientId() clientId: string,
    @Req() req: TracedRequest,
  ): Promise<SubmitResponse> {
    return this.submission.submitAuthenticated(given(body), callerContext(req, clientId));
  }

  @Get()
  @ApiOperation({ summary: "List the caller's tasks, newest first", operationId: 'list_tasks' })
  @ApiOkResponse({ type: TaskListDto })
  @ApiErrors(400)
  list(@Query() query: ListScansQueryDto, @ClientId() clientId: string) {
    return this.queries.list(
      {
        limit: query.limit,
        status_filter: query.status,
        scanner_pool: query.pool,
        target_filter: query.target,
      },
      clientId,
    );
  }

  @Get(':taskId')
  @ApiOperation({ summary: 'Status of a task', operationId: 'get_scan_status' })
  @ApiParam(TASK_ID_PARAM)
  @ApiOkResponse({ type: TaskDto })
  @ApiErrors(404)
  status(@Param('taskId') taskId: string, @ClientId() clientId: string) {
    return this.queries.status(taskId, clientId);
  }

  @Get(':taskId/results')
  @ApiOperation({
    summary: 'Findings of a completed task: filtered, paged, profiled',
    description:
      'JSON by default; with `Accept: application/x-ndjson` the same data as JSON lines (schema, scan_metadata, ' +
      'one vulnerability line per finding, pagination). Filter with `filter.<field>=<condition>` parameters ' +
      '(e.g. `filter.severity=>=4`, `filter.plugin_name=ssl`) and/or `filters=<JSON object>`.',
    operationId: 'get_scan_results',
  })
  @ApiParam(TASK_ID_PARAM)
  @ApiQuery({ type: ResultsQueryDto })
  @ApiQuery({
    name: 'filter.severity',
    required: false,
    description:
      'Example of a per-field filter parameter; any filterable field may be used as filter.<field>.',
    example: '>=4',
  })
  @ApiProduces('application/json', NDJSON)
  @ApiOkResponse({
    type: ResultsPageDto,
    description: `JSON, or JSON lines with Accept: ${NDJSON}.`,
  })
  @ApiErrors(400, 404, 409)
  async results(
    @Param('taskId') taskId: string,
    @Query(ResultsQueryPipe) query: ResultsQuery,
    @ClientId() clientId: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const page = await this.queries.results(taskId, clientId, query);
    res.vary('Accept');
    if (req.accepts(['application/json', NDJSON]) === NDJSON) {
      res.type(NDJSON);
      return renderJsonl(page);
    }
    return page;
  }

  @Get(':taskId/report')
  @ApiOperation({ summary: 'The raw .nessus export of a completed task', operationId: 'get_scan_report' })
  @ApiParam(TASK_ID_PARAM)
  @ApiProduces('application/xml')
  @ApiOkResponse({
    description: 'The .nessus (XML) file, as an attachment named <task_id>.nessus.',
    schema: { type: 'string', format: 'binary' },
  })
  @ApiErrors(404, 409)
  async report(@Param('taskId') taskId: string, @ClientId() clientId: string): Promise<StreamableFile> {
    const path = await this.queries.reportPath(taskId, clientId);
    const { size } = await stat(path);
    // reportPath accepted the id, so it is a plain [a-z0-9_] token: safe in the header.
    return new StreamableFile(createReadStream(path), {
      type: 'application/xml',
      disposition: `attachment; filename="${taskId}.nessus"`,
      length: size,
    });
  }

  @Post(':taskId/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a queued or running task',
    description: 'A running scan is stopped on Nessus. A finished task cannot be cancelled (409).',
    operationId: 'cancel_scan',
  })
  @ApiParam(TASK_ID_PARAM)
  @ApiOkResponse({ type: TaskDto, description: 'The task after cancellation.' })
  @ApiErrors(404, 409)
  cancel(@Param('taskId') taskId: string, @ClientId() clientId: string) {
    return this.queries.cancel(taskId, clientId);
  }
}
