import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ReadinessHealth } from './readiness.health';

/** /health/live checks nothing but the process; /health/ready (and /health) check the dependencies. */
@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessHealth,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.readiness.running(),
      () => this.readiness.redisUp(),
      () => this.readiness.storageWritable(),
      () => this.readiness.consumersRunning(),
      () => this.readiness.scanners(),
    ]);
  }

  @Get()
  @HealthCheck()
  overall() {
    return this.ready();
  }
}
