import 'reflect-metadata';
import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { CommandFactory, CommandRunnerService } from 'nest-commander';
import { AppConfig, ConfigError } from '../config/app-config';
import { AppError, ValidationError } from '../common/errors';
import { CliModule } from './cli.module';
import { ExitCode, UsageError } from './cli-support';

/** Logs go to stderr, so stdout carries only the command's output (and stays valid JSON with --json). */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(messages: unknown[], context?: string, logLevel?: LogLevel): void {
    super.printMessages(messages, context, logLevel, 'stderr');
  }
}

interface CommanderErrorLike {
  code: string;
  exitCode: number;
}

function isCommanderError(err: unknown): err is CommanderErrorLike {
  return (
    typeof (err as CommanderErrorLike)?.code === 'string' &&
    (err as CommanderErrorLike).code.startsWith('commander.')
  );
}

/** Exit code for an error a command threw (its message is printed to stderr). */
function exitCodeFor(err: unknown): ExitCode {
  if (isCommanderError(err)) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  if (err instanceof UsageError || err instanceof ValidationError) return ExitCode.Usage;
  return ExitCode.Failed;
}

function describe(err: unknown): string {
  if (err instanceof AppError || err instanceof UsageError) return err.message;
  return (err as Error)?.message ?? String(err);
}

/**
 * `npm run cli -- <command> [options]`: queue stats, dead letters, tasks, reconcile and scanner checks
 * against the deployment's Redis, DATA_DIR and scanners.yaml (read from the same environment as the
 * server). Exit codes: 0 ok, 1 the command failed, 2 usage or configuration error.
 */
async function main(argv: string[]): Promise<ExitCode> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(undefined, verbose ? {} : { LOG_LEVEL: 'warn' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return ExitCode.Usage;
    }
    throw err;
  }
  const levels: LogLevel[] = verbose
    ? ['fatal', 'error', 'warn', 'log', 'debug']
    : ['fatal', 'error', 'warn'];
  let failure: unknown = null;
  const app = await CommandFactory.createWithoutRunning(CliModule.forRoot(config), {
    logger: new StderrLogger('cli', { logLevels: levels }),
    cliName: 'npm run cli --',
    serviceErrorHandler: (err) => {
      failure = err;
    },
  });
  try {
    await app.get(CommandRunnerService).run([process.argv[0], 'cli', ...args]);
  } catch (err) {
    failure = err;
  } finally {
    await app.close();
  }
  if (failure !== null) {
    if (!isCommanderError(failure)) {
      process.stderr.write(
        `error: ${verbose ? ((failure as Error)?.stack ?? describe(failure)) : describe(failure)}\n`,
      );
    }
    return exitCodeFor(failure);
  }
  return (process.exitCode as ExitCode | undefined) ?? ExitCode.Ok;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`fatal: ${(err as Error).stack ?? err}\n`);
      process.exit(ExitCode.Failed);
    },
  );
}
