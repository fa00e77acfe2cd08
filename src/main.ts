import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { AppConfig, ConfigError } from './config/app-config';
import { answerClientErrorsWithJson } from './common/http/client-error';
import { traceRequests } from './common/logging/access-log';
import { createAppLogger, NestPinoLogger } from './common/logging/app-logger';
import { HttpErrorFilter } from './common/http/http-error.filter';
import { verifyJsonDepth } from './common/http/json-depth';
import { parseApiKeys, requireApiKey } from './security/api-key.guard';

/** Builds the application for a validated configuration (also used by the e2e tests). */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const logger = createAppLogger({ level: config.logLevel, mode: config.mode });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: new NestPinoLogger(logger),
    bodyParser: false,
  });
  app.use(traceRequests(logger));
  // Worker mode serves no /api: there every path answers 404, keyed or not.
  if (config.httpApiEnabled) app.use('/api', requireApiKey(parseApiKeys(config.security.apiKeys)));
  // Deeply nested JSON parses, but would overflow the stack of later recursive walks (a 500): refuse it.
  app.useBodyParser('json', { limit: config.http.bodyLimitBytes, verify: verifyJsonDepth() });
  app.useBodyParser('urlencoded', { limit: config.http.bodyLimitBytes, extended: false });
  app.useGlobalFilters(new HttpErrorFilter());
  answerClientErrorsWithJson(app.getHttpServer());
  app.disable('x-powered-by');
  // SIGHUP is left out on purpose: it reloads scanners.yaml instead of stopping the process.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  if (config.httpApiEnabled) {
    // Required here, not imported: Swagger is not loaded in worker mode.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./api/rest/openapi') as typeof import('./api/rest/openapi')).setupOpenApi(app);
  }
  return app;
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(config);
  armShutdownBound(config.pipeline.shutdownTimeoutSeconds);
  await app.listen(config.http.port, config.http.host);
  new Logger('Main').log(
    `listening on http://${config.http.host}:${config.http.port} in ${config.mode} mode`,
  );
}

/**
 * In-flight work gets a bounded time after SIGTERM; past it the process exits anyway. Otherwise Nest
 * exits by the same signal once every module has closed.
 */
function armShutdownBound(seconds: number): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      new Logger('Main').log(`${signal}: stopping; in-flight work has up to ${seconds} s`);
      setTimeout(() => {
        process.stderr.write(`shutdown took longer than ${seconds}s; exiting\n`);
        process.exit(1);
      }, seconds * 1000).unref();
    });
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`fatal: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
