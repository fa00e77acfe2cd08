import { Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { CommandRunner, InjectCommander, Option } from 'nest-commander';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../common/redis/redis.service';
import { ScanQueue } from '../queue/scan-queue';

/** Exit codes of the admin CLI. */
export enum ExitCode {
  Ok = 0,
  /** The command ran and something failed: Redis or a scanner unreachable, unknown task, … */
  Failed = 1,
  /** The command line was wrong (unknown command or option, bad value, missing confirmation). */
  Usage = 2,
}

/** A mistake in the command line; exits with ExitCode.Usage. */
export class UsageError extends Error {}

/** How long the CLI waits for Redis before giving up on a command that needs it. */
const REDIS_WAIT_MS = 5000;

function whenReady(client: { status: string; once(event: 'ready', fn: () => void): unknown }): Promise<void> {
  return client.status === 'ready'
    ? Promise.resolve()
    : new Promise((resolve) => client.once('ready', resolve));
}

/** Minimal view of a commander command (nest-commander's dependency), enough to walk the tree. */
interface CommanderNode {
  commands: readonly CommanderNode[];
  exitOverride(): unknown;
}

/**
 * Makes every command and subcommand throw commander's error instead of calling process.exit, so
 * main.ts maps usage errors to exit code 2 and closes the application first.
 */
@Injectable()
export class CommanderExits implements OnApplicationBootstrap {
  constructor(@InjectCommander() private readonly root: CommanderNode) {}

  onApplicationBootstrap(): void {
    const walk = (cmd: CommanderNode) => {
      cmd.exitOverride();
      cmd.commands.forEach(walk);
    };
    walk(this.root);
  }
}

/**
 * Waits (bounded) for the Redis connections during start-up: their commands fail fast, so a command
 * issued before the connection is ready would fail although Redis is fine.
 */
@Injectable()
export class RedisReadiness implements OnModuleInit {
  private problem: string | null = 'not connected yet';

  constructor(
    private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly queue: ScanQueue,
  ) {}

  async onModuleInit(): Promise<void> {
    // Bull's isReady() only loads its scripts; its command client (fail-fast too) is awaited like ours.
    const clients = [this.redis.client, this.queue.queue.client];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), REDIS_WAIT_MS);
    });
    const outcome = await Promise.race([
      Promise.all([...clients.map(whenReady), this.queue.queue.isReady()]),
      timeout,
    ]);
    clearTimeout(timer);
    const where = new URL(this.config.redis.url);
    this.problem =
      outcome === 'timeout'
        ? `Redis at ${where.hostname}:${where.port || 6379} did not answer within ${REDIS_WAIT_MS} ms`
        : null;
  }

  /** Throws (exit 1) when Redis was not reachable at start. */
  assert(): void {
    if (this.problem) throw new Error(this.problem);
  }
}

/** Base of the admin commands: `--json` and the output helpers. */
export abstract class CliCommand extends CommandRunner {
  @Option({ flags: '--json', description: 'print machine-readable JSON' })
  parseJson(): boolean {
    return true;
  }

  /** Prints `data` as JSON with --json, else the human text. */
  protected emit(options: { json?: boolean } | undefined, data: unknown, human: () => string): void {
    process.stdout.write(
      options?.json ? `${JSON.stringify(data, null, 2)}\n` : `${human().replace(/\n*$/, '')}\n`,
    );
  }
}

/** A plain text table with a header row; columns sized to their widest cell. */
export function table(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `key: value` lines, keys aligned. */
export function fields(entries: [string, unknown][]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries
    .map(
      ([k, v]) =>
        `${`${k}:`.padEnd(width + 1)} ${v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
    )
    .join('\n');
}

/** Parses a positive integer option value (commander argParser). */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(`${name} must be a positive integer (got ${JSON.stringify(value)})`);
    return n;
  };
}
