import type { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { deletePrefix, testRedisUrl, uniquePrefix } from './test-redis';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  url: string;
  dataDir: string;
  prefix: string;
  scannerConfig: string;
  close(): Promise<void>;
}

/** A scanners.yaml with the given pools of `{ instance_id, url }` entries, written to a temp file. */
export function writeScannersYaml(
  dir: string,
  pools: Record<string, { instance_id: string; url: string; max?: number }[]>,
): string {
  const lines: string[] = [];
  for (const [pool, entries] of Object.entries(pools)) {
    lines.push(`${pool}:`);
    for (const e of entries) {
      lines.push(
        `  - instance_id: ${e.instance_id}`,
        `    name: "${e.instance_id}"`,
        `    url: ${e.url}`,
        '    username: nessus',
        '    password: nessus',
        `    max_concurrent_scans: ${e.max ?? 2}`,
      );
    }
  }
  const path = join(dir, 'scanners.yaml');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/**
 * Boots the real application in one process on a private Redis prefix and temp DATA_DIR, listening on
 * an ephemeral port. `env` overrides the configuration.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  pools: Record<string, { instance_id: string; url: string; max?: number }[]> = {
    nessus: [{ instance_id: 'scanner1', url: 'http://127.0.0.1:9' }],
  },
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'nmg-app-'));
  const dataDir = join(dir, 'tasks');
  const prefix = uniquePrefix('app');
  const scannerConfig = writeScannersYaml(dir, pools);
  const config = AppConfig.fromEnv({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    SCANNER_CONFIG: scannerConfig,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    PORT: '0',
    ...env,
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    prefix,
    scannerConfig,
    async close() {
      await app.close();
      const redis = new Redis(config.redis.url);
      await deletePrefix(redis, prefix);
      await redis.quit();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
