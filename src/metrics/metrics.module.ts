import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ScannersModule } from '../scanners/scanners.module';
import { SecurityModule } from '../security/security.module';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { StateGauges } from './state-gauges.service';

/**
 * Prometheus metrics for every mode: MetricsService (global, so any provider can push a figure),
 * scrape-time gauges of the shared state, HTTP latency of every request, and GET /metrics.
 */
@Global()
@Module({
  imports: [ScannersModule, SecurityModule],
  controllers: [MetricsController],
  providers: [MetricsService, StateGauges, MetricsAccessGuard],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }
}
