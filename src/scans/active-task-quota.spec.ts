import { AppConfig } from '../config/app-config';
import type { RedisService } from '../common/redis/redis.service';
import { ActiveTaskQuota } from './active-task-quota';

describe('ActiveTaskQuota', () => {
  it('never asks Redis when MAX_ACTIVE_TASKS_PER_CLIENT is 0 (no cap)', async () => {
    // Only the call is recorded; the store itself runs on real Redis in the int and e2e specs.
    const calls: string[] = [];
    const client = { defineCommand: () => undefined, nmgQuotaReserve: () => calls.push('reserve') };
    const redis = { client, key: (...parts: string[]) => parts.join(':') } as unknown as RedisService;
    const quota = new ActiveTaskQuota(AppConfig.fromEnv({ MAX_ACTIVE_TASKS_PER_CLIENT: '0' }), redis);
    await expect(quota.reserve('alpha', 'ne_scan_x')).resolves.toBe(true);
    expect(calls).toEqual([]);
  });
});
