import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ResultsModule } from '../results/results.module';
import { ScannersModule } from '../scanners/scanners.module';
import { TasksModule } from '../tasks/tasks.module';
import { ActiveTaskQuota } from './active-task-quota';
import { ScanLifecycle } from './scan-lifecycle.service';
import { ScanQueries } from './scan-queries.service';
import { ScanSubmissionService } from './scan-submission.service';

/** Scan orchestration shared by the API and the workers: submission and what surrounds a task's steps. */
@Module({
  imports: [TasksModule, ScannersModule, IdempotencyModule, ResultsModule],
  providers: [ActiveTaskQuota, ScanLifecycle, ScanSubmissionService, ScanQueries],
  exports: [
    ActiveTaskQuota,
    ScanLifecycle,
    ScanSubmissionService,
    ScanQueries,
    TasksModule,
    ScannersModule,
    IdempotencyModule,
    ResultsModule,
  ],
})
export class ScansModule {}
