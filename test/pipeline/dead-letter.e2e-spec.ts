import { DeadLetterStore } from '../../src/queue/dead-letter.store';
import { ScanJob } from '../../src/queue/queue-names';
import { ScanQueue } from '../../src/queue/scan-queue';
import { RedisService } from '../../src/common/redis/redis.service';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { newTaskId } from '../../src/tasks/task-id';
import { newTask } from '../../src/tasks/task-state-machine';
import { TasksService } from '../../src/tasks/tasks.service';
import { startTestApp, TestApp } from '../support/app-harness';
import { waitFor } from '../support/wait-for';

/**
 * A step that fails every attempt (here its one attempt: the scanner refuses connections) puts its task
 * on the dead-letter list, where it keeps its state for an operator, and says so to whoever polls it.
 */
describe('a step that fails every attempt (worker, real Redis and Bull, unreachable scanner)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // The default pool's scanner is 127.0.0.1:9, where nothing listens.
    t = await startTestApp({ APP_MODE: 'worker', RECONCILE_INTERVAL_SECONDS: '3600' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('dead-letters the task, leaves it queued, and get_scan_status says why and what an operator does', async () => {
    const tasks = t.app.get(TasksService);
    const task = newTask({
      task_id: newTaskId(),
      name: 'doomed',
      targets: ['192.0.2.44'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace-dead-letter',
      client_id: 'anonymous',
    });
    await tasks.create(task);
    // Admitted by an earlier job: its create step first asks Nessus for a scan to adopt, and cannot.
    await tasks.update(task.task_id, 1, { phase: 'creating', scanner_instance: 'scanner1' });
    const jobId = `${task.task_id}:reread:v2`;
    const redis = t.app.get(RedisService);
    await redis.client.set(redis.key('chain', task.task_id), jobId);
    await t.app
      .get(ScanQueue)
      .queue.add(
        ScanJob.Advance,
        { taskId: task.task_id, traceId: task.trace_id, seq: 0 },
        { jobId, attempts: 1, removeOnFail: false },
      );

    const deadLetters = t.app.get(DeadLetterStore);
    await waitFor(() => deadLetters.has(task.task_id), Boolean, 20_000);
    const seen = await waitFor(
      () => t.app.get(ScanQueries).status(task.task_id, 'anonymous'),
      (s) => s.error !== null,
      5_000,
    );
    expect(seen).toMatchObject({ status: 'queued', phase: 'creating' });
    expect(seen.error).toMatch(
      /^its step in phase creating gave up after 1 failed attempt \(.*unreachable.*\)/,
    );
    expect(seen.error).toContain(`npm run cli -- dlq retry ${task.task_id}`);
  });
});
