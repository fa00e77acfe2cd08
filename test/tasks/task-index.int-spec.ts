import ipaddr from 'ipaddr.js';
import { FileTaskStore } from '../../src/tasks/file-task.store';
import { RedisService } from '../../src/common/redis/redis.service';
import { Task } from '../../src/tasks/task';
import { TaskIndex, TaskListQuery } from '../../src/tasks/task-index';
import { applyUpdate } from '../../src/tasks/task-state-machine';
import { deletePrefix, uniquePrefix } from '../support/test-redis';
import { makeTask, readyRedis, taskTestConfig } from './support';

const prefix = uniquePrefix('taskidx');
const config = taskTestConfig(prefix);
let redis: RedisService;
let index: TaskIndex;

beforeAll(async () => {
  redis = await readyRedis(config);
  index = new TaskIndex(redis);
});

afterAll(async () => {
  await deletePrefix(redis.client, prefix);
  await redis.onApplicationShutdown();
});

async function ids(query: Parameters<TaskIndex['list']>[0]): Promise<string[]> {
  return (await index.list(query)).taskIds;
}

describe('TaskIndex listing', () => {
  const t: Record<string, Task> = {};

  beforeAll(async () => {
    await deletePrefix(redis.client, prefix);
    t.a = makeTask({ targets: ['10.0.0.0/24'] });
    t.b = makeTask({ targets: ['10.0.1.5'], scanner_pool: 'dmz' });
    t.c = makeTask({ targets: ['10.1.0.0/16'], client_id: 'client-b' });
    t.d = makeTask({ targets: ['2001:db8::/64'] });
    t.e = makeTask({ targets: ['scan.example.com'], resolved_targets: ['203.0.113.7'] });
    t.f = makeTask({ targets: ['192.168.1.10-192.168.1.20'], scanner_pool: 'dmz' });
    for (const task of Object.values(t)) await index.upsert(task);
    // b is running, f failed: statuses move between the status sets.
    t.b = applyUpdate(t.b, { status: 'running' });
    await index.upsert(t.b);
    t.f = applyUpdate(t.f, { status: 'failed', error: 'boom' });
    await index.upsert(t.f);
  });

  it('lists newest first with the exact total', async () => {
    const page = await index.list({ limit: 3 });
    expect(page).toEqual({ taskIds: [t.f, t.e, t.d].map((x) => x.task_id), total: 6 });
    expect(await ids({ limit: 100 })).toEqual([t.f, t.e, t.d, t.c, t.b, t.a].map((x) => x.task_id));
  });

  it('filters by status, pool and client, alone and combined', async () => {
    expect(await ids({ limit: 10, status: 'queued' })).toEqual([t.e, t.d, t.c, t.a].map((x) => x.task_id));
    expect(await ids({ limit: 10, status: 'running' })).toEqual([t.b.task_id]);
    expect(await index.list({ limit: 10, status: 'completed' })).toEqual({ taskIds: [], total: 0 });
    expect(await ids({ limit: 10, pool: 'dmz' })).toEqual([t.f.task_id, t.b.task_id]);
    expect(await ids({ limit: 10, pool: 'dmz', status: 'failed' })).toEqual([t.f.task_id]);
    expect(await ids({ limit: 10, clientId: 'client-b' })).toEqual([t.c.task_id]);
    expect(await index.list({ limit: 1, clientId: 'client-a', status: 'queued' })).toEqual({
      taskIds: [t.e.task_id],
      total: 3,
    });
    expect(await index.list({ limit: 10, pool: 'no-such-pool' })).toEqual({ taskIds: [], total: 0 });
  });

  it.each([
    ['10.0.0.5', ['a']],
    ['10.0.0.0/16', ['b', 'a']],
    ['10.1.2.3', ['c']],
    ['10.0.0.0/8', ['c', 'b', 'a']],
    ['10.0.0.0/12', ['c', 'b', 'a']],
    ['10.0.0.0/15', ['c', 'b', 'a']],
    ['10.0.0.0/23', ['b', 'a']],
    ['0.0.0.0/0', ['f', 'e', 'c', 'b', 'a']],
    ['2001:db8::/20', ['d']],
    ['2001:db8::1', ['d']],
    ['example.com', ['e']],
    ['203.0.113.7', ['e']],
    ['192.168.1.15', ['f']],
    ['192.168.1.0/24', ['f']],
    ['192.168.1.21', []],
    ['10.0.0.50-10.0.1.4', ['a']],
    ['garbage target!', []],
  ])('filters by target %s (CIDR-aware)', async (query, expected) => {
    const page = await index.list({ limit: 10, target: query });
    expect(page.taskIds).toEqual(expected.map((k) => t[k].task_id));
    expect(page.total).toBe(expected.length);
  });

  it('combines the target filter with the others', async () => {
    expect(await index.list({ limit: 10, target: '10.0.0.0/8', status: 'queued' })).toEqual({
      taskIds: [t.c.task_id, t.a.task_id],
      total: 2,
    });
    expect(await ids({ limit: 10, target: '10.0.0.0/8', clientId: 'client-a' })).toEqual([
      t.b.task_id,
      t.a.task_id,
    ]);
    expect(await index.list({ limit: 1, target: '10.0.0.0/8' })).toEqual({
      taskIds: [t.c.task_id],
      total: 3,
    });
  });

  it('never lets an older version overwrite a newer one', async () => {
    const older = { ...t.b, version: t.b.version - 1, status: 'queued' as const };
    await index.upsert(older);
    expect(await ids({ limit: 10, status: 'running' })).toEqual([t.b.task_id]);
    expect(await ids({ limit: 10, status: 'queued' })).not.toContain(t.b.task_id);
  });

  it('keeps a task in every listing through updates of unindexed fields, and their version still counts', async () => {
    const moved = applyUpdate(t.a, { phase: 'creating', progress: 5 });
    await index.upsert(moved);
    expect(await ids({ limit: 10, target: '10.0.0.5', status: 'queued' })).toEqual([t.a.task_id]);
    await index.upsert({ ...t.a, status: 'running' });
    expect(await ids({ limit: 10, status: 'running' })).not.toContain(t.a.task_id);
    t.a = moved;
  });

  it('removes a task from every listing, target filters included', async () => {
    const g = makeTask({ targets: ['172.16.5.0/24'], scanner_pool: 'lab' });
    await index.upsert(g);
    expect(await ids({ limit: 10, target: '172.16.5.9' })).toEqual([g.task_id]);
    await index.remove(g.task_id);
    expect(await ids({ limit: 100 })).not.toContain(g.task_id);
    expect(await index.list({ limit: 10, target: '172.16.0.0/12' })).toEqual({ taskIds: [], total: 0 });
    expect(await index.list({ limit: 10, pool: 'lab' })).toEqual({ taskIds: [], total: 0 });
    const leftovers = await redis.client.keys(`${prefix}:tasks:idx:t:[nb]:4:ac10*`);
    expect(leftovers).toEqual([]);
    expect(await redis.client.zscore(`${prefix}:tasks:idx:lex:n:4:24`, '4:ac100500:24')).toBeNull();
    expect(await redis.client.zscore(`${prefix}:tasks:idx:lex:b:4:16`, '4:ac100000:16')).toBeNull();
  });

  it('leaves no temporary keys behind', async () => {
    await index.list({ limit: 5, target: '10.0.0.0/8', status: 'queued', pool: 'nessus' });
    expect(await redis.client.keys(`${prefix}:tasks:idx:tmp:*`)).toEqual([]);
  });
});

/** first..last of an address, CIDR or a-b range target, as numbers (IPv4 only). */
function span(target: string): [number, number] {
  const num = (a: string) =>
    ipaddr.IPv4.parse(a)
      .toByteArray()
      .reduce((n, b) => n * 256 + b, 0);
  if (target.includes('/')) {
    const [addr, bits] = ipaddr.IPv4.parseCIDR(target);
    const size = 2 ** (32 - bits);
    const first = Math.floor(num(addr.toString()) / size) * size;
    return [first, first + size - 1];
  }
  const [a, b] = target.split('-');
  return [num(a), num(b ?? a)];
}

describe('TaskIndex wide target queries (a union of many bucket sets)', () => {
  const tasks: Task[] = [];
  let x = 7;
  const rand = (n: number) => (x = (x * 1103515245 + 12345) % 2 ** 31) % n;

  beforeAll(async () => {
    await deletePrefix(redis.client, prefix);
    for (let i = 0; i < 400; i++) {
      const addr = () => `10.${rand(256)}.${rand(256)}.${1 + rand(250)}`;
      // Mostly single addresses across the /16 buckets of 10/8; a few CIDRs between bucket levels, and
      // one task in 25 with two addresses (held by two buckets of a query that spans both).
      const targets =
        i % 25 === 0
          ? [addr(), addr()]
          : i % 10 === 3
            ? [`10.${rand(256)}.${rand(16) * 16}.0/20`]
            : i % 50 === 7
              ? [`10.${rand(64) * 4}.0.0/14`]
              : [addr()];
      let task = makeTask({ targets, scanner_pool: i % 3 === 0 ? 'dmz' : 'nessus' });
      if (i % 4 === 0) task = applyUpdate(task, { status: 'running' });
      tasks.push(task);
      await index.upsert(task);
    }
    // Older tasks first, so some pages end among the tasks created in the same second.
    tasks.reverse();
  });

  it.each([
    '10.0.0.0/9',
    '10.128.0.0/10',
    '10.16.0.0/12',
    '10.0.0.0/7',
    '10.0.0.0/13',
    '10.3.0.0-10.77.255.255',
  ])(
    'finds exactly the tasks overlapping %s, newest first, with and without other filters',
    async (query) => {
      const [qFirst, qLast] = span(query);
      const overlapping = tasks.filter((t) =>
        t.targets.some((target) => {
          const [first, last] = span(target);
          return first <= qLast && qFirst <= last;
        }),
      );
      const filters: Array<Omit<TaskListQuery, 'limit'>> = [
        {},
        { status: 'running' },
        { pool: 'dmz' },
        { status: 'queued', pool: 'dmz' },
        { status: 'queued', clientId: 'client-a' },
      ];
      for (const filter of filters) {
        const expected = overlapping
          .filter(
            (t) =>
              (filter.status ?? t.status) === t.status && (filter.pool ?? t.scanner_pool) === t.scanner_pool,
          )
          .map((t) => t.task_id);
        if (Object.keys(filter).length === 0) expect(expected.length).toBeGreaterThan(0);
        for (const limit of [1, 10, 1000]) {
          const page = await index.list({ limit, target: query, ...filter });
          expect({ filter, ...page }).toEqual({
            filter,
            taskIds: expected.slice(0, limit),
            total: expected.length,
          });
        }
        const empty = await index.list({ limit: 0, target: query, ...filter });
        expect(empty).toEqual({ taskIds: [], total: expected.length });
      }
    },
  );
});

describe('TaskIndex rebuild from the files', () => {
  let store: FileTaskStore;
  const tasks: Task[] = [];

  beforeAll(async () => {
    await deletePrefix(redis.client, prefix);
    store = new FileTaskStore(config);
    await store.init();
    for (let i = 0; i < 450; i++) {
      // One in 45 also names an address in the next /16: two bucket terms of a /12 query hold it.
      const task = makeTask({
        targets:
          i % 45 === 0 ? [`10.50.${i % 4}.${i % 250}`, `10.51.${i % 4}.9`] : [`10.50.${i % 4}.${i % 250}`],
        scanner_pool: i % 3 === 0 ? 'dmz' : 'nessus',
      });
      await store.create(task);
      tasks.push(i % 5 === 0 ? await store.update(task.task_id, 1, { status: 'cancelled' }) : task);
    }
  });

  async function expectComplete(): Promise<void> {
    const newestFirst = [...tasks].reverse().map((x) => x.task_id);
    expect(await index.list({ limit: 1000 })).toEqual({ taskIds: newestFirst, total: 450 });
    const cancelled = newestFirst.filter((id) => tasks.find((x) => x.task_id === id)!.status === 'cancelled');
    expect(await index.list({ limit: 1000, status: 'cancelled' })).toEqual({ taskIds: cancelled, total: 90 });
    const onNet2 = await index.list({ limit: 1000, target: '10.50.2.0/24' });
    expect(onNet2.total).toBe(tasks.filter((x) => x.targets[0].startsWith('10.50.2.')).length);
    const cancelledOnNet2 = await index.list({ limit: 1000, target: '10.50.2.0/24', status: 'cancelled' });
    expect(cancelledOnNet2.total).toBe(
      tasks.filter((x) => x.targets[0].startsWith('10.50.2.') && x.status === 'cancelled').length,
    );
  }

  it('rebuilds everything after the index keys are flushed', async () => {
    expect(await index.isBuilt()).toBe(false);
    await index.ensureBuilt(store);
    expect(await index.isBuilt()).toBe(true);
    await expectComplete();

    await deletePrefix(redis.client, `${prefix}:tasks:idx`);
    expect(await index.list({ limit: 10 })).toEqual({ taskIds: [], total: 0 });
    await index.ensureBuilt(store);
    await expectComplete();
  });

  /** Rewrites every summary in the index as an older layout had it. */
  async function rewriteSummaries(edit: (summary: { x: string[]; f?: number }) => void): Promise<void> {
    const summaries = await redis.client.hgetall(`${prefix}:tasks:idx:sum`);
    for (const [id, json] of Object.entries(summaries)) {
      const summary = JSON.parse(json) as { x: string[]; f?: number };
      edit(summary);
      await redis.client.hset(`${prefix}:tasks:idx:sum`, id, JSON.stringify(summary));
    }
  }

  it('rebuilds an index left by the v2 layout (no per-status term sets, no set of tasks with several blocks) on first use', async () => {
    await index.ensureBuilt(store);
    const perStatus = await redis.client.keys(`${prefix}:tasks:idx:ts:*`);
    await redis.client.del(...perStatus, `${prefix}:tasks:idx:multi`, `${prefix}:tasks:idx:built:v3`);
    await redis.client.set(`${prefix}:tasks:idx:built:v2`, 'yes');
    await rewriteSummaries((summary) => delete summary.f);
    // Without those sets, the ten tasks on both /16s are counted twice and no status finds a target.
    expect((await index.list({ limit: 1, target: '10.48.0.0/12' })).total).toBe(460);
    expect((await index.list({ limit: 1, target: '10.50.2.0/24', status: 'cancelled' })).total).toBe(0);

    await index.ensureBuilt(store);
    expect((await index.list({ limit: 1, target: '10.48.0.0/12' })).total).toBe(450);
    await expectComplete();
  });

  it('rebuilds an index left by the v1 layout (no bucket terms) on first use', async () => {
    await index.ensureBuilt(store);
    const bucketKeys = await redis.client.keys(`${prefix}:tasks:idx:t:b:*`);
    await redis.client.del(...bucketKeys, `${prefix}:tasks:idx:built:v3`);
    await rewriteSummaries((summary) => (summary.x = summary.x.filter((t) => !t.startsWith('b:'))));
    await redis.client.set(`${prefix}:tasks:idx:built`, 'v1');
    await redis.client.zadd(`${prefix}:tasks:idx:tlex`, 0, '4:0a320000:32');
    expect((await index.list({ limit: 1, target: '10.0.0.0/8' })).total).toBe(0);

    await index.ensureBuilt(store);
    expect((await index.list({ limit: 1, target: '10.0.0.0/8' })).total).toBe(450);
    await expectComplete();
    expect(await redis.client.exists(`${prefix}:tasks:idx:tlex`, `${prefix}:tasks:idx:built`)).toBe(0);
  });

  it('stays correct when several processes rebuild at once', async () => {
    await deletePrefix(redis.client, `${prefix}:tasks:idx`);
    const others = await Promise.all([readyRedis(config), readyRedis(config)]);
    try {
      const indexes = [index, ...others.map((r) => new TaskIndex(r))];
      await Promise.all(indexes.flatMap((ix) => [ix.ensureBuilt(store), ix.ensureBuilt(store)]));
      await expectComplete();
    } finally {
      await Promise.all(others.map((r) => r.onApplicationShutdown()));
    }
  });
});
