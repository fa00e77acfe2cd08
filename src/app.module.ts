import { DynamicModule, Module } from '@nestjs/common';
import { ApiModule } from './api/api.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { LoggingModule } from './common/logging/logging.module';
import { RedisModule } from './common/redis/redis.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { QueueModule } from './queue/queue.module';
import { WorkerModule } from './worker/worker.module';

/**
 * One module tree for the three process modes: health and metrics everywhere, the HTTP API only in
 * api/all mode and the queue consumers only in worker/all mode.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const imports: DynamicModule['imports'] = [
      ConfigModule.forRoot(config),
      LoggingModule.forRoot(config),
      RedisModule,
      QueueModule,
      HealthModule,
      MetricsModule,
    ];
    if (config.httpApiEnabled) imports.push(ApiModule);
    if (config.consumersEnabled) imports.push(WorkerModule);
    return { module: AppModule, imports };
  }
}
