import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config';
import { RedisService } from '../../src/common/redis/redis.service';
import { Task } from '../../src/tasks/task';
import { newTaskId } from '../../src/tasks/task-id';
import { NewTaskFields, newTask } from '../../src/tasks/task-state-machine';
import { testRedisUrl } from '../support/test-redis';

/** A config on the test Redis with a private key prefix and a fresh DATA_DIR. */
export function taskTestConfig(prefix: string): AppConfig {
  return AppConfig.fromEnv({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    DATA_DIR: join(mkdtempSync(join(tmpdir(), 'nmg-tasks-')), 'data'),
  });
}

/** A RedisService whose connection is ready (its commands fail fast before that). */
export async function readyRedis(config: AppConfig): Promise<RedisService> {
  const redis = new RedisService(config);
  if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
  return redis;
}

let clock = Date.parse('2026-01-01T00:00:00.000Z');

/** A queued task created one second after the previous one (so "newest first" is well defined). */
export function makeTask(fields: Partial<NewTaskFields> = {}): Task {
  clock += 1000;
  const now = new Date(clock);
  return newTask(
    {
      task_id: newTaskId(now),
      name: 'scan',
      targets: ['10.9.9.9'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace',
      client_id: 'client-a',
      ...fields,
    },
    now,
  );
}
