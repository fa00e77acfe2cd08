import { BullModule } from '@nestjs/bull';
import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { bullClientOptions } from '../common/redis/redis-options';
import { BullConnections, BullConnectionsModule } from './bull-connections';
import { ConsumerState } from './consumer-state';
import { QueueName } from './queue-names';
import { ScanQueue } from './scan-queue';
import { DeadLetterStore } from './dead-letter.store';
import { WaitingLine } from './waiting-line';
import { CredentialVault } from './credential-vault';
import { WatchList } from './watch-list';

/** Registers the queues as producers in every mode; consumers are attached only by the worker module. */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      imports: [BullConnectionsModule],
      inject: [AppConfig, BullConnections],
      useFactory: (config: AppConfig, connections: BullConnections) => ({
        prefix: `${config.redis.prefix}:bull`,
        createClient: (type) => connections.create(type, bullClientOptions(config.redis, type)),
        // Steps are short, so a dead worker's job is taken over within ~20 s; a step may stall a few
        // times (crash loops, deploys) before Bull gives up on it.
        settings: { lockDuration: 15_000, stalledInterval: 5_000, maxStalledCount: 5 },
        defaultJobOptions: {
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 7 * 86400, count: 10_000 },
        },
      }),
    }),
    BullModule.registerQueue({ name: QueueName.ScanSteps }),
  ],
  providers: [ConsumerState, ScanQueue, DeadLetterStore, WaitingLine, CredentialVault, WatchList],
  exports: [BullModule, ConsumerState, ScanQueue, DeadLetterStore, WaitingLine, CredentialVault, WatchList],
})
export class QueueModule {}
