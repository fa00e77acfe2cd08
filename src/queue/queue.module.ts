import { BullModule } from '@nestjs/bull';
import { Global, Module } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { bullClientOptions } from '../common/redis/redis-options';
import { ConsumerState } from './consumer-state';
import { QueueName } from './queue-names';
import { ScanQueue } from './scan-queue';
import { DeadLetterStore } from './dead-letter.store';
import { WaitingLine } from './waiting-line';

/** Registers the queues as producers in every mode; consumers are attached only by the worker module. */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        prefix: `${config.redis.prefix}:bull`,
        createClient: (type) => new Redis(bullClientOptions(config.redis, type)),
        defaultJobOptions: {
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 7 * 86400, count: 10_000 },
        },
      }),
    }),
    BullModule.registerQueue({ name: QueueName.ScanSteps }),
  ],
  providers: [ConsumerState, ScanQueue, DeadLetterStore, WaitingLine],
  exports: [BullModule, ConsumerState, ScanQueue, DeadLetterStore, WaitingLine],
})
export class QueueModule {}
