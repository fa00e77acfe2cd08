import { AppConfig } from '../config/app-config';
import type { RedisService } from '../common/redis/redis.service';
import { ActiveTaskQuota } from './active-task-quota';

/** A RedisService that fails every script, as ioredis does with Redis unreachable (the real store: int/e2e specs). */
function unreachableRedis(): { service: RedisService; calls: string[] } {
  const calls: string[] = [];
  const fail = (name: string) => () => {
    calls.push(name);
    return Promise.reject(new Error('Connection is closed.'));
  };
  const client = {
    defineCommand: () => undefined,
    nmgQuotaReserve: fail('reserve'),
  };
  const service = { client, key: (...parts: string[]) => ['t', ...parts].join(':') };
  return { service: service as unknown as RedisService, calls };
}

describe('ActiveTaskQuota', () => {
  it('never asks Redis when MAX_ACTIVE_TASKS_PER_CLIENT is 0 (no cap)', async () => {
    const { service, calls } = unreachableRedis();
    const quota = new ActiveTaskQuota(AppConfig.fromEnv({ MAX_ACTIVE_TASKS_PER_CLIENT: '0' }), service);
    await expect(quota.reserve('alpha', 'ne_scan_x')).resolves.toBe(true);
    expect(calls).toEqual([]);
  });
});
