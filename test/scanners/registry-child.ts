/**
 * Child process for the SIGHUP test (run with `node -r ts-node/register/transpile-only`): boots the
 * scanners module on the real `process` (jest's sandboxed process object never receives signals),
 * prints every log line as {"level","message"} JSON, and answers each "status" line on stdin with
 * {"status": {version, pools, scanners, lastReload}}.
 */
import { LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createInterface } from 'node:readline';
import { RedisModule } from '../../src/common/redis/redis.module';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { ScannerRegistry } from '../../src/scanners/scanner-registry.service';
import { ScannersModule } from '../../src/scanners/scanners.module';

const print = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const logger: LoggerService = {
  log: (m: unknown) => print({ level: 'log', message: String(m) }),
  error: (m: unknown) => print({ level: 'error', message: String(m) }),
  warn: (m: unknown) => print({ level: 'warn', message: String(m) }),
};

async function main(): Promise<void> {
  @Module({ imports: [ConfigModule.forRoot(AppConfig.fromEnv(process.env)), RedisModule, ScannersModule] })
  class ChildModule {}
  const app = await NestFactory.createApplicationContext(ChildModule, { logger });
  const registry = app.get(ScannerRegistry);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line !== 'status') return;
    const snap = registry.snapshot();
    print({
      status: {
        version: snap.version,
        pools: snap.pools,
        scanners: snap.scanners.map((s) => s.instanceId),
        lastReload: registry.lastReload(),
      },
    });
  });
  lines.once('close', () => void app.close().then(() => process.exit(0)));
  print({ ready: true, pid: process.pid });
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
