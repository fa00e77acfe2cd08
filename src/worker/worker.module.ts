import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ResultsModule } from '../results/results.module';
import { ScannersModule } from '../scanners/scanners.module';
import { ScansModule } from '../scans/scans.module';
import { TasksModule } from '../tasks/tasks.module';
import { HousekeepingService } from './housekeeping.service';
import { Reconciler } from './reconciler.service';
import { ScanPipeline } from './scan-pipeline.service';
import { ScanStepProcessor } from './scan-step.processor';
import { ScanWatcher } from './scan-watcher.service';

/** Queue consumers and background jobs (reconciler, housekeeping); imported only in worker and all modes. */
@Module({
  imports: [TasksModule, ScannersModule, ResultsModule, IdempotencyModule, ScansModule],
  providers: [ScanPipeline, ScanStepProcessor, ScanWatcher, Reconciler, HousekeepingService],
  exports: [Reconciler, HousekeepingService],
})
export class WorkerModule {}
