import { bullClientOptions, baseRedisOptions } from './redis-options';

const settings = { url: 'redis://127.0.0.1:6379', sentinels: [], sentinelName: 'mymaster' };

describe('Redis options', () => {
  it('gives Bull blocking and subscriber clients the real values it requires', () => {
    for (const type of ['bclient', 'subscriber'] as const) {
      const o = bullClientOptions(settings, type);
      expect(o.maxRetriesPerRequest).toBeNull();
      expect(o.enableReadyCheck).toBe(false);
    }
  });

  it('makes the command client fail fast while Redis is down', () => {
    const o = bullClientOptions(settings, 'client');
    expect(o.enableOfflineQueue).toBe(false);
    expect(o.maxRetriesPerRequest).toBe(1);
    expect(o.commandTimeout).toBeGreaterThan(0);
  });

  it('reads TLS, password and db from a rediss:// URL', () => {
    const o = baseRedisOptions({ ...settings, url: 'rediss://:s3cret@redis.example:6380/2' });
    expect(o).toMatchObject({ host: 'redis.example', port: 6380, db: 2, password: 's3cret' });
    expect(o.tls).toEqual({ servername: 'redis.example' });
  });

  it('uses Sentinels when they are configured', () => {
    const o = baseRedisOptions({ ...settings, sentinels: ['10.0.0.1:26379', 's2'], sentinelName: 'main' });
    expect(o.sentinels).toEqual([
      { host: '10.0.0.1', port: 26379 },
      { host: 's2', port: 26379 },
    ]);
    expect(o.name).toBe('main');
    expect(o.host).toBeUndefined();
    expect(o.enableTLSForSentinelMode).toBeFalsy();
    expect(o.sentinelTLS).toBeUndefined();
  });

  it('keeps TLS and the password of a rediss:// URL for the master and the Sentinels', () => {
    const o = baseRedisOptions({
      url: 'rediss://:s3cret@redis.example.internal:6380/1',
      sentinels: ['10.0.0.1:26379'],
      sentinelName: 'main',
    });
    expect(o).toMatchObject({ password: 's3cret', sentinelPassword: 's3cret', db: 1 });
    expect(o.tls).toEqual({ servername: 'redis.example.internal' });
    expect(o.enableTLSForSentinelMode).toBe(true);
    expect(o.sentinelTLS).toEqual({ servername: 'redis.example.internal' });
  });
});
