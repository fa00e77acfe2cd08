import { UnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { RedisService } from '../common/redis/redis.service';
import { ActiveTaskQuota } from './active-task-quota';

/** A RedisService whose scripts fail as ioredis does with Redis unreachable (the real store: int/e2e specs). */
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
  it('answers a submission 503 (retry), not 500, when Redis fails at the reservation', async () => {
    const { service } = unreachableRedis();
    const quota = new ActiveTaskQuota(AppConfig.fromEnv({ MAX_ACTIVE_TASKS_PER_CLIENT: '5' }), service);
    const err = (await quota.reserve('alpha', 'ne_scan_x').catch((e: unknown) => e)) as UnavailableError;
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/per-client task count is unavailable \(Connection is closed\.\)/);
  });

  it('never asks Redis when MAX_ACTIVE_TASKS_PER_CLIENT is 0 (no cap)', async () => {
    const { service, calls } = unreachableRedis();
    const quota = new ActiveTaskQuota(AppConfig.fromEnv({ MAX_ACTIVE_TASKS_PER_CLIENT: '0' }), service);
    await expect(quota.reserve('alpha', 'ne_scan_x')).resolves.toBe(true);
    expect(calls).toEqual([]);
  });
});
