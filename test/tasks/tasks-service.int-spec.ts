import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { NotFoundError, ValidationError } from '../../src/common/errors';
import { RedisModule } from '../../src/common/redis/redis.module';
import { RedisService } from '../../src/common/redis/redis.service';
import { ConfigModule } from '../../src/config/config.module';
import { PUBLIC_TASK_FIELDS } from '../../src/tasks/task';
import { InvalidTransitionError } from '../../src/tasks/task-state-machine';
import { StaleVersionError, TaskStore } from '../../src/tasks/task.store';
import { TasksModule } from '../../src/tasks/tasks.module';
import { TasksService } from '../../src/tasks/tasks.service';
import { deletePrefix, uniquePrefix } from '../support/test-redis';
import { makeTask, taskTestConfig } from './support';

const prefix = uniquePrefix('tasksvc');
const config = taskTestConfig(prefix);
let app: INestApplicationContext;
let tasks: TasksService;
let store: TaskStore;
let redis: RedisService;

beforeAll(async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), RedisModule, TasksModule],
  }).compile();
  app = moduleRef;
  redis = app.get(RedisService);
  if (redis.client.status !== 'ready') await new Promise((r) => redis.client.once('ready', r));
  await moduleRef.init();
  tasks = app.get(TasksService);
  store = app.get(TaskStore);
});

afterAll(async () => {
  await deletePrefix(redis.client, prefix);
  await app.close();
});

describe('TasksService', () => {
  it('creates a task once and reads it back', async () => {
    const task = makeTask();
    await expect(tasks.create(task)).resolves.toBe('created');
    await expect(tasks.create({ ...task, name: 'other' })).resolves.toBe('exists');
    await expect(tasks.get(task.task_id)).resolves.toEqual(task);
  });

  it('answers malformed ids with not found, without touching storage', async () => {
    const spy = jest.spyOn(store, 'get');
    try {
      for (const id of ['../../etc/passwd', '%2e%2e%2f', 'ne_scan_..', 'x'.repeat(10_000)]) {
        const err = await tasks.get(id).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NotFoundError);
        expect((err as Error).message).toMatch(/^task .* not found$/);
        expect((err as Error).message.length).toBeLessThan(120);
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('hides another client’s task exactly like a missing one', async () => {
    const task = makeTask({ client_id: 'owner' });
    await tasks.create(task);
    await expect(tasks.get(task.task_id, 'owner')).resolves.toMatchObject({ task_id: task.task_id });
    await expect(tasks.get(task.task_id, 'intruder')).rejects.toThrow(`task ${task.task_id} not found`);
    await expect(tasks.get(makeTask().task_id, 'owner')).rejects.toBeInstanceOf(NotFoundError);
    const listed = await tasks.list({ clientId: 'intruder', limit: 100 });
    expect(listed.tasks.map((t) => t.task_id)).not.toContain(task.task_id);
  });

  it('updates through the state machine with version checks', async () => {
    const task = makeTask();
    await tasks.create(task);
    const running = await tasks.update(task.task_id, 1, {
      status: 'running',
      phase: 'scanning',
      nessus_scan_id: 7,
    });
    await expect(tasks.update(task.task_id, 1, { progress: 50 })).rejects.toBeInstanceOf(StaleVersionError);
    const summary = {
      hosts_scanned: 1,
      total_vulnerabilities: 3,
      severity_breakdown: { critical: 0, high: 1, medium: 1, low: 1, info: 0 },
    };
    const done = await tasks.update(task.task_id, running.version, {
      status: 'completed',
      results_summary: summary,
    });
    expect(done).toMatchObject({ status: 'completed', phase: 'done', progress: 100, version: 3 });
    await expect(tasks.transition(task.task_id, 'cancelled')).rejects.toBeInstanceOf(InvalidTransitionError);

    const pub = await tasks.getPublic(task.task_id);
    expect(Object.keys(pub)).toEqual([...PUBLIC_TASK_FIELDS]);
    expect(pub.results_summary).toEqual(summary);
    const statuses = (await tasks.list({ status: 'completed', limit: 100 })).tasks.map((t) => t.task_id);
    expect(statuses).toContain(task.task_id);
  });

  it('lets exactly one of a racing cancel and completion win', async () => {
    for (let round = 0; round < 20; round++) {
      const task = makeTask();
      await tasks.create(task);
      await tasks.transition(task.task_id, 'running');
      const results = await Promise.allSettled([
        tasks.transition(task.task_id, 'cancelled'),
        tasks.transition(task.task_id, 'completed'),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(InvalidTransitionError);
      const final = await tasks.get(task.task_id);
      expect(final.status).toBe((won[0] as PromiseFulfilledResult<{ status: string }>).value.status);
      expect(final.history.map((h) => h.to)).toEqual(['queued', 'running', final.status]);
      expect(final.version).toBe(3);
    }
  });

  it('lists public views newest first with a total, and validates its arguments', async () => {
    await deletePrefix(redis.client, `${prefix}:tasks:idx`);
    const mine = [
      makeTask({ client_id: 'lister' }),
      makeTask({ client_id: 'lister' }),
      makeTask({ client_id: 'lister' }),
    ];
    for (const t of mine) await tasks.create(t);
    const page = await tasks.list({ clientId: 'lister', limit: 2 });
    expect(page.total).toBe(3);
    expect(page.tasks.map((t) => t.task_id)).toEqual([mine[2].task_id, mine[1].task_id]);
    expect(Object.keys(page.tasks[0])).toEqual([...PUBLIC_TASK_FIELDS]);
    // The index was flushed above: list rebuilt it from the files, so older tasks are there too.
    expect((await tasks.list({ limit: 500 })).total).toBeGreaterThan(20);

    await expect(tasks.list({ status: 'exploded' })).rejects.toBeInstanceOf(ValidationError);
    expect((await tasks.list({ clientId: 'lister', limit: 0 })).tasks).toHaveLength(1);
    expect((await tasks.list({ clientId: 'lister', limit: 10_000 })).tasks).toHaveLength(3);
  });

  it('repairs index entries that fell behind the files', async () => {
    const task = makeTask({ client_id: 'repair' });
    await tasks.create(task);
    // A write whose index update was lost (e.g. Redis blipped after the file was renamed).
    await store.update(task.task_id, 1, { status: 'running' });
    const queued = await tasks.list({ clientId: 'repair', status: 'queued' });
    expect(queued.tasks).toEqual([]);
    expect(queued.total).toBe(0);
    const running = await tasks.list({ clientId: 'repair', status: 'running' });
    expect(running.tasks.map((t) => t.task_id)).toEqual([task.task_id]);

    await store.delete(task.task_id);
    expect(await tasks.list({ clientId: 'repair' })).toEqual({ tasks: [], total: 0 });
    expect((await redis.client.hget(`${prefix}:tasks:idx:sum`, task.task_id)) ?? null).toBeNull();
  });
});
