import { Controller, Get, Param, Query, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { NotFoundError } from '../../common/errors';
import { ScanQueries } from '../../scans/scan-queries.service';
import { ScannersService } from '../../scanners/scanners.service';
import { ApiKeyGuard } from '../../security/api-key.guard';
import { ClientRateLimitGuard } from '../../security/rate-limit';
import { ApiErrors } from './api-docs.decorators';
import { PoolListDto, PoolStatusDto, QueueStatusDto, ScannerListDto } from './dto/responses.dto';
import { PoolQueryDto } from './dto/scan-queries.dto';
import { POOL_NAME_PATTERN } from '../../config/scanners-file';
import { restValidationPipe } from './validation.pipe';

/** SPEC §6 infrastructure routes: list_scanners, list_pools, get_pool_status, get_queue_status. */
@ApiTags('infrastructure')
@ApiBearerAuth()
@ApiErrors(401, 429, 503)
@Controller('api/v1')
@UseGuards(ApiKeyGuard, ClientRateLimitGuard)
@UsePipes(restValidationPipe())
export class InfrastructureController {
  constructor(
    private readonly scanners: ScannersService,
    private readonly queries: ScanQueries,
  ) {}

  @Get('scanners')
  @ApiOperation({ summary: 'Scanners with their capacity and health', operationId: 'list_scanners' })
  @ApiOkResponse({ type: ScannerListDto })
  @ApiErrors(400, 404)
  listScanners(@Query() query: PoolQueryDto) {
    return this.scanners.listScanners(query.pool);
  }

  @Get('pools')
  @ApiOperation({ summary: 'Scanner pools and the default pool', operationId: 'list_pools' })
  @ApiOkResponse({ type: PoolListDto })
  listPools() {
    return this.scanners.listPools();
  }

  @Get('pools/:pool')
  @ApiOperation({ summary: 'Capacity and scanners of one pool', operationId: 'get_pool_status' })
  @ApiParam({ name: 'pool', example: 'nessus' })
  @ApiOkResponse({ type: PoolStatusDto })
  @ApiErrors(404)
  poolStatus(@Param('pool') pool: string) {
    if (!POOL_NAME_PATTERN.test(pool)) {
      throw new NotFoundError(`unknown scanner pool ${JSON.stringify(pool.slice(0, 64))}`);
    }
    return this.scanners.poolStatus(pool);
  }

  @Get('queue')
  @ApiOperation({
    summary: 'Waiting tasks of a pool (default: the default pool)',
    operationId: 'get_queue_status',
  })
  @ApiOkResponse({ type: QueueStatusDto })
  @ApiErrors(400, 404)
  queue(@Query() query: PoolQueryDto) {
    return this.queries.queueStatus(query.pool);
  }
}
