import { Command, CommandRunner, SubCommand } from 'nest-commander';
import { NessusClients } from '../scanners/nessus-clients.service';
import { NessusError } from '../scanners/nessus/nessus-errors';
import { ScannerRegistry } from '../scanners/scanner-registry.service';
import { displayUrl } from '../scanners/registry-snapshot';
import { CliCommand, table, UsageError } from './cli-support';

/** One scanner's answer to `scanners check`. */
export interface ScannerCheck {
  pool: string;
  instance_id: string;
  url: string;
  enabled: boolean;
  reachable: boolean;
  /** ready, loading, … as /server/status says. */
  status: string | null;
  version: string | null;
  product: string | null;
  /** ok: an authenticated call succeeded; failed: the credentials were refused; unknown: not reached. */
  auth: 'ok' | 'failed' | 'unknown';
  error: string | null;
}

@SubCommand({
  name: 'check',
  description: 'reach every scanner: status, version and whether its credentials work',
})
export class ScannersCheckCommand extends CliCommand {
  constructor(
    private readonly registry: ScannerRegistry,
    private readonly clients: NessusClients,
  ) {
    super();
  }

  async run(_args: string[], options: { json?: boolean } = {}): Promise<void> {
    const snap = this.registry.snapshot();
    const checks = await Promise.all(
      snap.scanners.map((s) => this.check(s.instanceId, s.pool, s.url, s.enabled)),
    );
    const healthy = checks.every((c) => !c.enabled || (c.reachable && c.auth === 'ok'));
    this.emit(options, { scanners: checks, ok: healthy }, () =>
      table(
        ['POOL', 'SCANNER', 'URL', 'ENABLED', 'REACHABLE', 'STATUS', 'VERSION', 'AUTH', 'ERROR'],
        checks.map((c) => [
          c.pool,
          c.instance_id,
          c.url,
          c.enabled ? 'yes' : 'no',
          c.reachable ? 'yes' : 'no',
          c.status,
          c.version,
          c.auth,
          c.error,
        ]),
      ),
    );
    // Exit 1 when an enabled scanner cannot be used; a disabled one is reported but does not count.
    if (!healthy) process.exitCode = 1;
  }

  private async check(
    instanceId: string,
    pool: string,
    url: string,
    enabled: boolean,
  ): Promise<ScannerCheck> {
    const result: ScannerCheck = {
      pool,
      instance_id: instanceId,
      url: displayUrl(url),
      enabled,
      reachable: false,
      status: null,
      version: null,
      product: null,
      auth: 'unknown',
      error: null,
    };
    const client = this.clients.client(instanceId);
    try {
      const status = await client.serverStatus();
      result.reachable = true;
      result.status = status.status;
      result.version = status.version ?? null;
      result.product = status.product ?? null;
    } catch (err) {
      result.error = (err as Error).message;
      return result;
    }
    try {
      // An authenticated read: proves the session login or API keys are accepted.
      await client.listScans();
      result.auth = 'ok';
    } catch (err) {
      result.auth = err instanceof NessusError && err.kind === 'auth' ? 'failed' : 'unknown';
      result.error = (err as Error).message;
    }
    return result;
  }
}

@Command({ name: 'scanners', description: 'scanners', subCommands: [ScannersCheckCommand] })
export class ScannersCommand extends CommandRunner {
  async run(): Promise<void> {
    throw new UsageError('scanners: name a subcommand (check)');
  }
}
