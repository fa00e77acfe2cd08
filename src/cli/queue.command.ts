import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { DeadLetterStore } from '../queue/dead-letter.store';
import { ScanQueue } from '../queue/scan-queue';
import { WaitingLine } from '../queue/waiting-line';
import { CapacityLeases } from '../scanners/capacity-leases.store';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { CliCommand, fields, RedisReadiness, table, UsageError } from './cli-support';

interface QueueStatsOptions {
  json?: boolean;
  pool?: string;
}

/** `queue stats [--pool <name>]`: the scan-steps queue, the dead-letter list and each pool's line and capacity. */
@SubCommand({
  name: 'stats',
  description: 'queue depth, dead letters, and per pool: waiting, running and capacity',
})
export class QueueStatsCommand extends CliCommand {
  constructor(
    private readonly ready: RedisReadiness,
    private readonly queue: ScanQueue,
    private readonly deadLetters: DeadLetterStore,
    private readonly waiting: WaitingLine,
    private readonly registry: ScannerRegistry,
    private readonly leases: CapacityLeases,
  ) {
    super();
  }

  @Option({ flags: '--pool <name>', description: 'only this pool' })
  parsePool(value: string): string {
    return value;
  }

  async run(_args: string[], options: QueueStatsOptions = {}): Promise<void> {
    this.ready.assert();
    const snap = this.registry.snapshot();
    if (options.pool !== undefined && !snap.hasPool(options.pool)) {
      throw new UsageError(`unknown pool "${options.pool}"; pools: ${snap.pools.join(', ')}`);
    }
    const names = options.pool !== undefined ? [options.pool] : [...snap.pools];
    const jobs = await this.queue.counts();
    const deadLetters = await this.deadLetters.size();
    const pools = await Promise.all(
      names.map(async (pool) => {
        const scanners = snap.inPool(pool);
        const active = await this.leases.activeByInstance(scanners.map((s) => s.instanceId));
        const capacity = await this.registry.capacity(pool);
        return {
          pool,
          waiting: await this.waiting.size(pool),
          running: scanners.reduce((sum, s) => sum + (active[s.instanceId] ?? 0), 0),
          capacity: scanners.filter((s) => s.enabled).reduce((sum, s) => sum + s.maxConcurrentScans, 0),
          available: capacity.available,
        };
      }),
    );
    const data = { jobs, dead_letters: deadLetters, pools };
    this.emit(options, data, () =>
      [
        fields([
          ['jobs waiting', jobs.waiting],
          ['jobs active', jobs.active],
          ['jobs delayed', jobs.delayed],
          ['jobs failed', jobs.failed],
          ['scans watched', jobs.watched],
          ['dead letters', deadLetters],
        ]),
        '',
        table(
          ['POOL', 'WAITING', 'RUNNING', 'CAPACITY', 'AVAILABLE'],
          pools.map((p) => [p.pool, p.waiting, p.running, p.capacity, p.available]),
        ),
      ].join('\n'),
    );
  }
}

@Command({ name: 'queue', description: 'queue statistics', subCommands: [QueueStatsCommand] })
export class QueueCommand extends CommandRunner {
  run(): Promise<void> {
    throw new UsageError('queue: name a subcommand (stats)');
  }
}
