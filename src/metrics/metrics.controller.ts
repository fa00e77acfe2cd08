import { Controller, Get, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsService } from './metrics.service';
import { StateGauges } from './state-gauges.service';

/** GET /metrics: Prometheus text exposition, in every mode. */
@ApiExcludeController()
@Controller('metrics')
@UseGuards(MetricsAccessGuard)
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly gauges: StateGauges,
  ) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    await this.gauges.refresh();
    const body = await this.metrics.render();
    res.status(200).setHeader('Content-Type', this.metrics.contentType);
    res.setHeader('Cache-Control', 'no-store');
    // A Buffer, so express keeps the exposition content type exactly as Prometheus expects it.
    res.send(Buffer.from(body, 'utf8'));
  }
}
