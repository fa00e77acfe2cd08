/**
 * store: the task store (the built dist/ FileTaskStore, in this process) on a DATA_DIR in the benchmark's
 * temp directory: durable creates, versioned updates (lock, read, temp file, fsync, rename, directory
 * fsync) and reads of task files, 20 in flight. Every submission creates a task, every step updates one
 * and every status request reads one. In the same run, the floor of a read: fs.readFile and JSON.parse of
 * the same file. Figures: operations per second and this process's CPU per operation.
 */
import { readFile } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cleanup, ROOT, benchWorkspace, figure, fmt, header, measureCalls } from './support';

const TASKS = Number(process.env.BENCH_STORE_TASKS ?? 2_000);
const READS = 5 * TASKS;
const IN_FLIGHT = 20;

interface Store {
  init(): Promise<void>;
  create(task: object): Promise<string>;
  update(id: string, version: number, patch: object): Promise<{ version: number }>;
  get(id: string): Promise<object | null>;
  taskDir(id: string): string;
}

/* eslint-disable @typescript-eslint/no-require-imports */
function load() {
  const { AppConfig } = require(join(ROOT, 'dist/config/app-config.js')) as {
    AppConfig: { fromEnv(env: Record<string, string>): object };
  };
  const { FileTaskStore } = require(join(ROOT, 'dist/tasks/file-task.store.js')) as {
    FileTaskStore: new (config: object) => Store;
  };
  const { newTask } = require(join(ROOT, 'dist/tasks/task-state-machine.js')) as {
    newTask(init: object): { task_id: string };
  };
  const { newTaskId } = require(join(ROOT, 'dist/tasks/task-id.js')) as { newTaskId(): string };
  return { AppConfig, FileTaskStore, newTask, newTaskId };
}
/* eslint-enable @typescript-eslint/no-require-imports */

export async function run(): Promise<void> {
  header(`store: ${TASKS} task files created, each updated 3 times, ${READS} reads, ${IN_FLIGHT} in flight`);
  const cleanup = new Cleanup();
  try {
    const { dir } = benchWorkspace('store', cleanup);
    const { AppConfig, FileTaskStore, newTask, newTaskId } = load();
    const store = new FileTaskStore(AppConfig.fromEnv({ DATA_DIR: join(dir, 'tasks') }));
    await store.init();
    const ids = Array.from({ length: TASKS + 500 }, () => newTaskId());
    const versions = new Map<string, number>();
    const task = (id: string) =>
      newTask({
        task_id: id,
        name: `bench ${id}`,
        targets: ['192.0.2.10', '192.0.2.11'],
        scan_type: 'untrusted',
        scanner_pool: 'nessus',
        trace_id: 'bench-store',
        client_id: 'bench',
      });
    // measureCalls warms up with 500 calls first, hence 500 ids more than measured.
    let c = 0;
    const created = await measureCalls(
      async () => {
        const id = ids[c++];
        await store.create(task(id));
        versions.set(id, 1);
      },
      TASKS,
      IN_FLIGHT,
    );
    let u = 0;
    const updated = await measureCalls(
      async () => {
        const id = ids[u++ % ids.length];
        const next = await store.update(id, versions.get(id)!, { progress: u % 100 });
        versions.set(id, next.version);
      },
      3 * TASKS,
      IN_FLIGHT,
    );
    let r = 0;
    const read = await measureCalls(() => store.get(ids[r++ % ids.length]), READS, IN_FLIGHT);
    const readRaw = promisify(readFile);
    let f = 0;
    const floor = await measureCalls(
      async () =>
        JSON.parse(await readRaw(join(store.taskDir(ids[f++ % ids.length]), 'task.json'), 'utf8')) as unknown,
      READS,
      IN_FLIGHT,
    );
    figure('create (durable, exclusive)', `${fmt(created.rate)} /s`);
    figure('  CPU per create', `${fmt(created.cpuMs, 3)} ms`);
    figure('update (locked, versioned)', `${fmt(updated.rate)} /s`);
    figure('  CPU per update', `${fmt(updated.cpuMs, 3)} ms`);
    figure('read (get)', `${fmt(read.rate)} /s`);
    figure('  CPU per read', `${fmt(read.cpuMs, 3)} ms`);
    figure('floor: fs.readFile + JSON.parse', `${fmt(floor.rate)} /s`);
    figure('  CPU per read', `${fmt(floor.cpuMs, 3)} ms`);
    figure('CPU per read, store / floor', `${fmt(read.cpuMs / floor.cpuMs, 2)}`);
  } finally {
    await cleanup.run();
  }
}
