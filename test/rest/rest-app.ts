import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import Redis from 'ioredis';
import { Logger } from 'nestjs-pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiModule } from '../../src/api/api.module';
import { setupOpenApi } from '../../src/api/rest/openapi';
import { AppModule } from '../../src/app.module';
import { HttpErrorFilter } from '../../src/common/http/http-error.filter';
import { AppConfig } from '../../src/config/app-config';
import { WorkerModule } from '../../src/worker/worker.module';
import { startTestApp, TestApp, writeScannersYaml } from '../support/app-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

type Pools = Record<string, { instance_id: string; url: string; max?: number }[]>;

function apiWired(config: AppConfig): boolean {
  const imports = AppModule.forRoot(config).imports ?? [];
  return imports.includes(ApiModule);
}

/**
 * The whole application in all mode on a private Redis prefix and temp DATA_DIR. Uses the shared harness
 * (src/main.ts createApp) once AppModule imports ApiModule; until then it assembles the same app around
 * AppModule + ApiModule + WorkerModule the way createApp does.
 */
export async function startRestApp(env: Record<string, string>, pools: Pools): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'nmg-rest-'));
  const prefix = uniquePrefix('rest');
  const config = AppConfig.fromEnv({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    DATA_DIR: join(dir, 'tasks'),
    SCANNER_CONFIG: writeScannersYaml(dir, pools),
    LOG_LEVEL: 'warn',
    PORT: '0',
    ...env,
  });
  if (apiWired(config)) {
    rmSync(dir, { recursive: true, force: true });
    return startTestApp(env, pools);
  }

  @Module({ imports: [AppModule.forRoot(config), ApiModule, WorkerModule] })
  class RestTestRoot {}

  const app = await NestFactory.create<NestExpressApplication>(RestTestRoot, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.useBodyParser('json', { limit: config.http.bodyLimitBytes });
  app.useBodyParser('urlencoded', { limit: config.http.bodyLimitBytes, extended: false });
  app.useGlobalFilters(new HttpErrorFilter());
  app.disable('x-powered-by');
  setupOpenApi(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    dataDir: config.storage.dataDir,
    prefix,
    scannerConfig: config.scanners.configPath,
    async close() {
      await app.close();
      const redis = new Redis(config.redis.url);
      await deletePrefix(redis, prefix);
      await redis.quit();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
