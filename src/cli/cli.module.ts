import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { RedisModule } from '../common/redis/redis.module';
import { QueueModule } from '../queue/queue.module';
import { ScansModule } from '../scans/scans.module';
import { Reconciler } from '../worker/reconciler.service';
import { CommanderExits, RedisReadiness } from './cli-support';
import {
  DlqCommand,
  DlqInspectCommand,
  DlqListCommand,
  DlqPurgeCommand,
  DlqRetryCommand,
} from './dlq.command';
import { QueueCommand, QueueStatsCommand } from './queue.command';
import { OnDemandReconciler, ReconcileCommand } from './reconcile.command';
import { ScannersCheckCommand, ScannersCommand } from './scanners.command';
import { TaskCommand, TaskListCommand, TaskShowCommand } from './task.command';

/**
 * The admin CLI's application context: the same feature modules as the server (queue producer, tasks,
 * scanners, scan lifecycle) and the worker's Reconciler, but no HTTP and no queue consumer, so running a
 * command never takes jobs.
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [ConfigModule.forRoot(config), RedisModule, QueueModule, ScansModule],
      providers: [
        CommanderExits,
        RedisReadiness,
        { provide: Reconciler, useClass: OnDemandReconciler },
        QueueCommand,
        QueueStatsCommand,
        DlqCommand,
        DlqListCommand,
        DlqInspectCommand,
        DlqRetryCommand,
        DlqPurgeCommand,
        TaskCommand,
        TaskShowCommand,
        TaskListCommand,
        ReconcileCommand,
        ScannersCommand,
        ScannersCheckCommand,
      ],
    };
  }
}
