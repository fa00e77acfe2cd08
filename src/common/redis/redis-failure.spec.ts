import { ReplyError } from 'ioredis';
import { UnavailableError } from '../errors';
import { isRedisUnavailable, redisOutageAsUnavailable } from './redis-failure';

describe('redisOutageAsUnavailable', () => {
  it.each([
    ['a closed connection', new Error('Connection is closed.')],
    [
      'the offline queue refusing',
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ],
    ['a command timeout', new Error('Command timed out')],
    [
      'Redis out of memory under noeviction',
      new ReplyError('OOM command not allowed when used memory > maxmemory.'),
    ],
    ['Redis loading its data', new ReplyError('LOADING Redis is loading the dataset in memory')],
  ])('makes %s a 503 to retry', (_label, err) => {
    const mapped = redisOutageAsUnavailable(err) as UnavailableError;
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect(mapped.status).toBe(503);
    expect(mapped.message).toContain(err.message);
  });

  it('leaves a fault in what was asked (a script or type error) and any other error as it was', () => {
    for (const err of [
      new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
      new ReplyError('ERR Error running script'),
      new TypeError('x is undefined'),
      'not an error',
    ]) {
      expect(isRedisUnavailable(err)).toBe(false);
      expect(redisOutageAsUnavailable(err)).toBe(err);
    }
  });
});
