import { DynamicModule, Module, Type } from '@nestjs/common';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { RedisModule } from './common/redis/redis.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { QueueModule } from './queue/queue.module';
import { WorkerModule } from './worker/worker.module';

// Required on demand rather than imported, so worker mode never loads the API's dependencies.
function loadApiModule(): Type {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./api/api.module') as typeof import('./api/api.module')).ApiModule;
}

/**
 * One module tree for the three process modes: health and metrics everywhere, the HTTP API only in
 * api/all mode and the queue consumers only in worker/all mode.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const imports: DynamicModule['imports'] = [
      ConfigModule.forRoot(config),
      RedisModule,
      QueueModule,
      HealthModule,
      MetricsModule,
    ];
    // A worker never loads the MCP SDK, Swagger or Bull Board (17 MB less RSS, docs/BENCHMARKS.md).
    if (config.httpApiEnabled) imports.push(loadApiModule());
    if (config.consumersEnabled) imports.push(WorkerModule);
    return { module: AppModule, imports };
  }
}
