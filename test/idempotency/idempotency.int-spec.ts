import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Test, TestingModule } from '@nestjs/testing';
import { ConflictError, UnavailableError } from '../../src/common/errors';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { scopedKeyHash } from '../../src/idempotency/idempotency-key';
import { IdempotencyModule } from '../../src/idempotency/idempotency.module';
import { IdempotencyService, RestorableKeys } from '../../src/idempotency/idempotency.service';
import { RestoredKey } from '../../src/idempotency/restorable-key';
import {
  ClaimResult,
  IdempotencyStore,
  RedisIdempotencyStore,
} from '../../src/idempotency/idempotency.store';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

const TTL = 120;
const prefix = uniquePrefix('idem');
const config = AppConfig.fromEnv({
  REDIS_URL: testRedisUrl(),
  REDIS_PREFIX: prefix,
  IDEMPOTENCY_TTL_SECONDS: String(TTL),
});

let app: TestingModule;
let redis: RedisService;
let store: IdempotencyStore;
let service: IdempotencyService;
const extraConnections: RedisService[] = [];
const children: ChildProcess[] = [];
let seq = 0;

const newKeyHash = () => scopedKeyHash('client-a', `key-${++seq}`);
const redisKey = (keyHash: string) => redis.key('idem', keyHash);
const summarize = (results: ClaimResult[]) => ({
  claimed: results.filter((r) => r.outcome === 'claimed').length,
  replay: results.filter((r) => r.outcome === 'replay').length,
  taskIds: new Set(results.map((r) => ('taskId' in r ? r.taskId : r.outcome))),
});
// No task files here: a restore finds no keys to put back.
const noStoredKeys: RestorableKeys = async function* () {};
const begin = (params: Parameters<IdempotencyService['begin']>[0], svc = service) =>
  svc.begin(params, noStoredKeys);

beforeAll(async () => {
  app = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), RedisModule, IdempotencyModule],
  }).compile();
  await app.init();
  redis = app.get(RedisService);
  store = app.get(IdempotencyStore);
  service = app.get(IdempotencyService);
  await connected(redis);
  await store.markRestored();
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const conn of extraConnections) await conn.onApplicationShutdown();
  await deletePrefix(redis.client, prefix);
  await app.close();
}, 30_000);

describe('RedisIdempotencyStore.claim under concurrency', () => {
  it('gives 200 concurrent identical claims in one process one claimed task and 199 replays of it', async () => {
    for (let i = 0; i < 3; i++) extraConnections.push(new RedisService(config));
    await Promise.all(extraConnections.map(connected));
    const stores = [store, ...extraConnections.map((c) => new RedisIdempotencyStore(c))];
    const keyHash = newKeyHash();

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        stores[i % stores.length].claim(keyHash, 'fp-1', `task-${i}`, TTL),
      ),
    );

    const { claimed, replay, taskIds } = summarize(results);
    expect(claimed).toBe(1);
    expect(replay).toBe(199);
    expect(taskIds.size).toBe(1);
    const winner = results.find((r) => r.outcome === 'claimed')!.taskId;
    expect(await store.get(keyHash)).toEqual({ taskId: winner, fingerprint: 'fp-1' });
  });

  it('gives identical claims from 3 processes at once exactly one claimed task overall', async () => {
    const keyHash = newKeyHash();
    const perChild = 50;
    const procs = Array.from({ length: 3 }, () => startClaimChild(keyHash, 'fp-x', perChild));
    await Promise.all(procs.map((p) => p.ready));
    for (const p of procs) p.child.stdin!.end('go\n');
    const results = (await Promise.all(procs.map((p) => p.results))).flat();

    expect(results).toHaveLength(3 * perChild);
    const { claimed, replay, taskIds } = summarize(results);
    expect(claimed).toBe(1);
    expect(replay).toBe(3 * perChild - 1);
    expect(taskIds.size).toBe(1);
    expect((await store.get(keyHash))?.taskId).toBe([...taskIds][0]);
  }, 60_000);

  it('reports a mismatch for another fingerprint and leaves the stored claim untouched', async () => {
    const keyHash = newKeyHash();
    await store.claim(keyHash, 'fp-original', 'task-original', TTL);
    const before = await redis.client.hgetall(redisKey(keyHash));
    const ttlBefore = await redis.client.pttl(redisKey(keyHash));

    const result = await store.claim(keyHash, 'fp-other', 'task-other', TTL * 10);

    expect(result).toEqual({ outcome: 'mismatch', taskId: 'task-original' });
    expect(await redis.client.hgetall(redisKey(keyHash))).toEqual(before);
    expect(await redis.client.pttl(redisKey(keyHash))).toBeLessThanOrEqual(ttlBefore);
    expect(await store.claim(keyHash, 'fp-original', 'task-3', TTL)).toEqual({
      outcome: 'replay',
      taskId: 'task-original',
    });
  });
});

describe('RedisIdempotencyStore expiry and release', () => {
  it('sets the TTL on claim and extends it on touch', async () => {
    const keyHash = newKeyHash();
    await store.claim(keyHash, 'fp', 'task-1', 30);
    const afterClaim = await redis.client.pttl(redisKey(keyHash));
    expect(afterClaim).toBeGreaterThan(0);
    expect(afterClaim).toBeLessThanOrEqual(30_000);

    await store.touch(keyHash, 3600);
    const afterTouch = await redis.client.pttl(redisKey(keyHash));
    expect(afterTouch).toBeGreaterThan(30_000);
    expect(afterTouch).toBeLessThanOrEqual(3_600_000);
  });

  it('does not resurrect a key that is gone when touched', async () => {
    const keyHash = newKeyHash();
    await store.touch(keyHash, 60);
    expect(await redis.client.exists(redisKey(keyHash))).toBe(0);
    expect(await store.get(keyHash)).toBeNull();
  });

  it('releases a key only for the task that owns it', async () => {
    const keyHash = newKeyHash();
    await store.claim(keyHash, 'fp', 'task-owner', TTL);

    await store.release(keyHash, 'task-someone-else');
    expect(await store.get(keyHash)).toEqual({ taskId: 'task-owner', fingerprint: 'fp' });

    await store.release(keyHash, 'task-owner');
    expect(await store.get(keyHash)).toBeNull();
  });

  it('lets a released key be claimed afresh, even for a different request', async () => {
    const keyHash = newKeyHash();
    await store.claim(keyHash, 'fp-refused', 'task-refused', TTL);
    await store.release(keyHash, 'task-refused');

    expect(await store.claim(keyHash, 'fp-corrected', 'task-new', TTL)).toEqual({
      outcome: 'claimed',
      taskId: 'task-new',
    });
  });
});

describe('IdempotencyService', () => {
  it('passes a request without a key straight through, never deduplicating it', async () => {
    const params = { clientId: 'client-a', key: null, fingerprint: 'fp-nokey' };
    expect(await begin({ ...params, newTaskId: 'task-nokey-1' })).toEqual({
      keyHash: null,
      taskId: 'task-nokey-1',
      replay: false,
    });
    expect(await begin({ ...params, newTaskId: 'task-nokey-2' })).toMatchObject({
      taskId: 'task-nokey-2',
      replay: false,
    });
  });

  it('returns the original task as a replay for the same key and request', async () => {
    const first = await begin({
      clientId: 'client-a',
      key: 'retry-me',
      fingerprint: 'fp',
      newTaskId: 'task-1',
    });
    const again = await begin({
      clientId: 'client-a',
      key: 'retry-me',
      fingerprint: 'fp',
      newTaskId: 'task-2',
    });
    expect(first).toEqual({
      keyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      taskId: 'task-1',
      replay: false,
    });
    expect(again).toEqual({ keyHash: first.keyHash, taskId: 'task-1', replay: true });
  });

  it('keeps two clients with the same raw key apart', async () => {
    const a = await begin({
      clientId: 'client-a',
      key: 'shared-key',
      fingerprint: 'fp',
      newTaskId: 'task-a',
    });
    const b = await begin({
      clientId: 'client-b',
      key: 'shared-key',
      fingerprint: 'fp',
      newTaskId: 'task-b',
    });
    expect(a).toMatchObject({ taskId: 'task-a', replay: false });
    expect(b).toMatchObject({ taskId: 'task-b', replay: false });
    expect(b.keyHash).not.toBe(a.keyHash);
  });

  it('refuses the same key for a different request with a 409 that says so', async () => {
    await begin({
      clientId: 'client-a',
      key: 'one-scan',
      fingerprint: 'fp-1',
      newTaskId: 'task-first',
    });
    const attempt = begin({
      clientId: 'client-a',
      key: 'one-scan',
      fingerprint: 'fp-2',
      newTaskId: 'task-second',
    });
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toMatchObject({ status: 409 });
    await expect(attempt).rejects.toThrow(
      /already used with a different request \(task task-first\).*new key/,
    );
  });

  it('stores the key only as its scoped hash, never the raw key', async () => {
    const raw = 'raw-key-that-must-not-be-stored';
    const begun = await begin({
      clientId: 'client-a',
      key: raw,
      fingerprint: 'fp',
      newTaskId: 'task-raw',
    });
    expect(begun.keyHash).toBe(scopedKeyHash('client-a', raw));
    expect(await redis.client.exists(redis.key('idem', raw))).toBe(0);
    const record = await redis.client.hgetall(redisKey(begun.keyHash!));
    expect(Object.keys(record).sort()).toEqual(['created_at', 'fp', 'task_id']);
    expect(JSON.stringify(record)).not.toContain(raw);
  });

  it('keepAlive extends the key to IDEMPOTENCY_TTL_SECONDS', async () => {
    const begun = await begin({
      clientId: 'client-a',
      key: 'long-scan',
      fingerprint: 'fp',
      newTaskId: 't-long',
    });
    await redis.client.expire(redisKey(begun.keyHash!), 5);
    await service.keepAlive(begun.keyHash);
    const pttl = await redis.client.pttl(redisKey(begun.keyHash!));
    expect(pttl).toBeGreaterThan(5_000);
    expect(pttl).toBeLessThanOrEqual(TTL * 1000);
  });

  it('abandon frees the key so a corrected request can use it', async () => {
    const refused = await begin({
      clientId: 'client-a',
      key: 'fix-me',
      fingerprint: 'fp-bad',
      newTaskId: 'task-x',
    });
    await service.abandon(refused.keyHash, refused.taskId);
    const corrected = await begin({
      clientId: 'client-a',
      key: 'fix-me',
      fingerprint: 'fp-good',
      newTaskId: 'task-y',
    });
    expect(corrected).toMatchObject({ taskId: 'task-y', replay: false });
  });

  it('reports a lost Redis connection as 503 Unavailable, not as an internal error', async () => {
    const lost = new RedisService(config);
    await connected(lost);
    // A closed connection rejects at once; a refused one would leave ioredis' command timer running.
    const ended = new Promise((resolve) => lost.client.once('end', resolve));
    lost.client.disconnect();
    await ended;
    const lostService = new IdempotencyService(new RedisIdempotencyStore(lost), config);

    const attempt = begin(
      { clientId: 'client-a', key: 'k', fingerprint: 'fp', newTaskId: 'task-z' },
      lostService,
    );
    await expect(attempt).rejects.toBeInstanceOf(UnavailableError);
    await expect(attempt).rejects.toMatchObject({ status: 503 });
    await expect(lostService.keepAlive('0'.repeat(64))).resolves.toBeUndefined();
    await expect(lostService.abandon('0'.repeat(64), 'task-z')).resolves.toBeUndefined();
  });
});

describe('after Redis lost the keys', () => {
  const lose = async (...keyHashes: string[]) =>
    redis.client.del(redis.key('idem-restored'), ...keyHashes.map(redisKey));
  const stored = (...keys: RestoredKey[]): RestorableKeys =>
    async function* () {
      yield keys;
    };
  afterEach(() => store.markRestored());

  it('claims nothing until the keys are restored: the store answers unrestored', async () => {
    await lose();
    expect(await store.claim(newKeyHash(), 'fp', 'task-early', TTL)).toEqual({ outcome: 'unrestored' });
    expect(await store.isRestored()).toBe(false);
  });

  it('puts back the keys the task files hold, so a replay gets its task and a different request is refused', async () => {
    const first = await begin({
      clientId: 'client-a',
      key: 'lost-1',
      fingerprint: 'fp-1',
      newTaskId: 'task-kept',
    });
    await lose(first.keyHash!);
    let walks = 0;
    const tasks: RestorableKeys = async function* () {
      walks++;
      yield [{ keyHash: first.keyHash!, taskId: 'task-kept', fingerprint: 'fp-1', ttlSeconds: 60 }];
    };
    const params = { clientId: 'client-a', key: 'lost-1', fingerprint: 'fp-1', newTaskId: 'task-dup' };
    const replays = await Promise.all([service.begin(params, tasks), service.begin(params, tasks)]);
    expect(replays.map((r) => [r.taskId, r.replay])).toEqual([
      ['task-kept', true],
      ['task-kept', true],
    ]);
    expect(walks).toBe(1);
    const ttl = await redis.client.ttl(redisKey(first.keyHash!));
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
    await expect(service.begin({ ...params, fingerprint: 'fp-other' }, stored())).rejects.toThrow(
      /already used with a different request \(task task-kept\)/,
    );
  });

  it('never overwrites a key claimed since', async () => {
    const keyHash = newKeyHash();
    await store.claim(keyHash, 'fp-new', 'task-new', TTL);
    await store.restore([{ keyHash, taskId: 'task-old', fingerprint: 'fp-old', ttlSeconds: 30 }]);
    expect(await store.get(keyHash)).toEqual({ taskId: 'task-new', fingerprint: 'fp-new' });
  });

  it('answers 503 while another process is still restoring, and claims once it is done', async () => {
    await lose();
    const lock = redis.key('idem-restoring');
    await redis.client.set(lock, 'another-process', 'PX', 60_000);
    const params = { clientId: 'client-a', key: 'while-restoring', fingerprint: 'fp', newTaskId: 'task-w' };
    const waited = Date.now();
    await expect(begin(params)).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/being restored/),
    });
    expect(Date.now() - waited).toBeGreaterThanOrEqual(4_000);
    await redis.client.del(lock);
    expect(await begin(params)).toMatchObject({ taskId: 'task-w', replay: false });
  }, 15_000);
});

/** The command client fails fast, so wait until it is connected before the first command. */
async function connected(service: RedisService): Promise<void> {
  if (service.client.status !== 'ready')
    await new Promise((resolve) => service.client.once('ready', resolve));
}

/** Spawns claim-child.ts; `ready` resolves once it is connected, `results` with its claims after "go". */
function startClaimChild(keyHash: string, fingerprint: string, count: number) {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'claim-child.ts')],
    {
      cwd: join(__dirname, '../..'),
      env: {
        PATH: process.env.PATH,
        NMG_REDIS_URL: testRedisUrl(),
        NMG_PREFIX: prefix,
        NMG_KEY_HASH: keyHash,
        NMG_FP: fingerprint,
        NMG_COUNT: String(count),
        NMG_TTL: String(TTL),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const failed = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`claim child exited with ${code}: ${stderr}`))),
  );
  failed.catch(() => undefined);
  const nextLine = () =>
    Promise.race([new Promise<string>((resolve) => lines.once('line', resolve)), failed]);
  const ready = nextLine().then((line) => expect(line).toBe('ready'));
  const results = ready.then(async () => JSON.parse(await nextLine()) as ClaimResult[]);
  return { child, ready, results };
}
