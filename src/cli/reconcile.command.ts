import { Injectable } from '@nestjs/common';
import { Command } from 'nest-commander';
import { Reconciler } from '../worker/reconciler.service';
import { CliCommand, fields, RedisReadiness } from './cli-support';

/** The worker's Reconciler without its schedule: the CLI runs one pass when asked, never on its own. */
@Injectable()
export class OnDemandReconciler extends Reconciler {
  override onApplicationBootstrap(): void {}
}

@Command({ name: 'reconcile', description: 'give every unfinished task without a live job a job again, now' })
export class ReconcileCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly reconciler: Reconciler,
  ) {
    super();
  }

  async run(_args: string[], options: { json?: boolean } = {}): Promise<void> {
    this.ready.assert();
    const report = await this.reconciler.reconcileIfLeader();
    if (!report) throw new Error('a worker is reconciling right now; try again in a moment');
    this.emit(options, report, () =>
      fields([
        ['unfinished tasks checked', report.checked],
        ['re-seeded', report.reseeded.length ? report.reseeded.join(', ') : 0],
        ['skipped (dead-lettered)', report.skipped_dead_letters],
        ['dead-lettered, timed out', report.timed_out.length ? report.timed_out.join(', ') : 0],
        ['waiting-line entries removed', report.waiting_pruned.length ? report.waiting_pruned.join(', ') : 0],
        ['client quota places freed', report.quota_freed.length ? report.quota_freed.join(', ') : 0],
        ['client quota places restored', report.quota_restored.length ? report.quota_restored.join(', ') : 0],
      ]),
    );
  }
}
