import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import Redis from 'ioredis';
import { Logger } from 'nestjs-pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminModule } from '../../src/api/admin/admin.module';
import { AppModule } from '../../src/app.module';
import { HttpErrorFilter } from '../../src/common/http/http-error.filter';
import { AppConfig } from '../../src/config/app-config';
import { MetricsModule } from '../../src/metrics/metrics.module';
import { writeScannersYaml } from '../support/app-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

export interface OpsApp {
  app: INestApplication;
  config: AppConfig;
  url: string;
  dataDir: string;
  prefix: string;
  close(): Promise<void>;
}

@Module({})
class OpsRootModule {}

/**
 * Boots the application as createApp does, with MetricsModule (every mode) and AdminModule (api/all)
 * imported next to AppModule; once AppModule and ApiModule import them, the extra imports are the same
 * module instances and change nothing.
 */
export async function startOpsApp(
  env: Record<string, string> = {},
  pools: Record<string, { instance_id: string; url: string; max?: number }[]> = {
    nessus: [{ instance_id: 'scanner1', url: 'http://127.0.0.1:9' }],
  },
): Promise<OpsApp> {
  const dir = mkdtempSync(join(tmpdir(), 'nmg-ops-'));
  const dataDir = join(dir, 'tasks');
  const prefix = uniquePrefix('ops');
  const config = AppConfig.fromEnv({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    SCANNER_CONFIG: writeScannersYaml(dir, pools),
    LOG_LEVEL: 'warn',
    PORT: '0',
    ...env,
  });
  const root: DynamicModule = {
    module: OpsRootModule,
    imports: [AppModule.forRoot(config), MetricsModule, ...(config.httpApiEnabled ? [AdminModule] : [])],
  };
  const app = await NestFactory.create<NestExpressApplication>(root, { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  app.useBodyParser('json');
  app.useGlobalFilters(new HttpErrorFilter());
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    prefix,
    async close() {
      await app.close();
      const redis = new Redis(config.redis.url);
      await deletePrefix(redis, prefix);
      await redis.quit();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Value of one sample in a Prometheus text exposition, or undefined when the series is absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      found[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}
