import { ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { NotFoundError, ValidationError } from '../../src/common/errors';
import { AppConfig } from '../../src/config/app-config';
import { FileTaskStore } from '../../src/tasks/file-task.store';
import { Task } from '../../src/tasks/task';
import { newTaskId } from '../../src/tasks/task-id';
import { InvalidTransitionError, newTask } from '../../src/tasks/task-state-machine';
import { StaleVersionError, TaskFileError } from '../../src/tasks/task.store';
import { onPath } from '../support/redis-harness';

jest.setTimeout(120_000);

const CHILD = join(__dirname, 'fixtures', 'store-child.ts');
const children = new Set<ChildProcess>();

/** The store child with `args`, run by `wrapper` (e.g. strace and its options) when one is given. */
function startChild(args: string[], wrapper: string[] = []): ChildProcess {
  const [command, ...argv] = [
    ...wrapper,
    process.execPath,
    '-r',
    'ts-node/register/transpile-only',
    CHILD,
    ...args,
  ];
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: join(__dirname, '..', '..'),
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function output(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`)),
    );
  });
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code} before "${line}"`)));
  });
}

function killAndWait(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    process.kill(child.pid!, 'SIGKILL');
  });
}

let root: string;
let dataDir: string;
let store: FileTaskStore;

function sample(id = newTaskId(), overrides: Partial<Task> = {}): Task {
  return {
    ...newTask({
      task_id: id,
      name: 'nightly',
      targets: ['10.0.0.0/24'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 'trace-1',
      client_id: 'client-a',
    }),
    ...overrides,
  };
}

function taskFile(id: string): string {
  return join(dataDir, id, 'task.json');
}

function tmpFiles(id: string): string[] {
  return readdirSync(join(dataDir, id)).filter((f) => f.endsWith('.tmp'));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'nmg-store-'));
  dataDir = join(root, 'data');
  store = new FileTaskStore(AppConfig.fromEnv({ DATA_DIR: dataDir }));
  await store.init();
});

afterAll(async () => {
  await Promise.all([...children].map(killAndWait));
  rmSync(root, { recursive: true, force: true });
});

describe('FileTaskStore', () => {
  it('creates DATA_DIR and stores a task that reads back equal', async () => {
    expect(statSync(dataDir).isDirectory()).toBe(true);
    const task = sample();
    await expect(store.create(task)).resolves.toBe('created');
    await expect(store.get(task.task_id)).resolves.toEqual(task);
    expect(JSON.parse(readFileSync(taskFile(task.task_id), 'utf8'))).toEqual(task);
    expect(tmpFiles(task.task_id)).toEqual([]);
  });

  it('lets exactly one of many concurrent creators of an id win, and keeps its task intact', async () => {
    const id = newTaskId();
    const attempts = Array.from({ length: 25 }, (_, i) => sample(id, { name: `creator-${i}` }));
    const results = await Promise.all(attempts.map((t) => store.create(t)));
    expect(results.filter((r) => r === 'created')).toHaveLength(1);
    expect(results.filter((r) => r === 'exists')).toHaveLength(24);
    const winner = attempts[results.indexOf('created')];
    await expect(store.get(id)).resolves.toEqual(winner);
    expect(tmpFiles(id)).toEqual([]);
  });

  it('returns null for an unknown task and a clear error naming a task whose file is corrupt', async () => {
    await expect(store.get(newTaskId())).resolves.toBeNull();
    const id = newTaskId();
    mkdirSync(join(dataDir, id));
    writeFileSync(taskFile(id), '{"task_id": "' + id + '", "vers');
    const err = await store.get(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFileError);
    expect((err as Error).message).toContain(id);
  });

  it('applies an update at the expected version and refuses a stale writer without touching the file', async () => {
    const task = sample();
    await store.create(task);
    const writes: Array<[Task, Task]> = [];
    const running = await store.update(task.task_id, 1, { status: 'running', phase: 'scanning' }, (a, b) =>
      writes.push([a, b]),
    );
    expect(running).toMatchObject({ version: 2, status: 'running', phase: 'scanning' });
    expect(running.started_at).not.toBeNull();
    // The write's observer sees the task as it was and as written (the transition metric's labels).
    expect(writes).toEqual([[task, running]]);

    const before = readFileSync(taskFile(task.task_id), 'utf8');
    const stale = await store
      .update(task.task_id, 1, { status: 'cancelled' }, (a, b) => writes.push([a, b]))
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(StaleVersionError);
    expect(writes).toHaveLength(1);
    expect(readFileSync(taskFile(task.task_id), 'utf8')).toBe(before);
    await expect(store.get(task.task_id)).resolves.toMatchObject({ version: 2, status: 'running' });
  });

  it('abandons a write whose lock another writer broke meanwhile, leaving the file as it was', async () => {
    const task = sample();
    await store.create(task);
    const before = readFileSync(taskFile(task.task_id), 'utf8');
    // The writer stalls in its read under the lock while another process breaks the lock (as a stale one
    // is broken); the lock's next refresh finds it gone.
    const reader = store as unknown as { read(id: string, dir: string): Promise<Task | null> };
    const read = reader.read.bind(store);
    const stalled = jest.spyOn(reader, 'read').mockImplementationOnce(async (id: string, dir: string) => {
      rmSync(join(dir, 'task.json.lock'), { recursive: true });
      await new Promise((r) => setTimeout(r, 2500));
      return read(id, dir);
    });
    try {
      await expect(store.update(task.task_id, 1, { progress: 50 })).rejects.toThrow(/its lock was lost/);
    } finally {
      stalled.mockRestore();
    }
    expect(readFileSync(taskFile(task.task_id), 'utf8')).toBe(before);
    // No temporary file is left beside it.
    expect(readdirSync(dirname(taskFile(task.task_id)))).toEqual(['task.json']);
  });

  it('refuses an illegal transition and keeps the stored state', async () => {
    const task = sample();
    await store.create(task);
    await expect(store.update(task.task_id, 1, { status: 'completed' })).rejects.toBeInstanceOf(
      InvalidTransitionError,
    );
    await expect(store.get(task.task_id)).resolves.toEqual(task);
  });

  it('reports an unknown task on update as not found', async () => {
    await expect(store.update(newTaskId(), 1, { progress: 1 })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes a task and its directory', async () => {
    const task = sample();
    await store.create(task);
    writeFileSync(join(store.taskDir(task.task_id), 'scan.nessus'), '<xml/>');
    await store.delete(task.task_id);
    expect(existsSync(join(dataDir, task.task_id))).toBe(false);
    await expect(store.get(task.task_id)).resolves.toBeNull();
    await expect(store.delete(task.task_id)).resolves.toBeUndefined();
  });

  it('streams only task directories from listIds', async () => {
    mkdirSync(join(dataDir, 'lost+found'), { recursive: true });
    writeFileSync(join(dataDir, 'ne_scan_20260101_000000_0000000f'), 'a file, not a task dir');
    const ids: string[] = [];
    for await (const id of store.listIds()) ids.push(id);
    expect(ids).not.toContain('lost+found');
    expect(ids).not.toContain('ne_scan_20260101_000000_0000000f');
    const onDisk = readdirSync(dataDir).filter(
      (d) => d.startsWith('ne_scan_') && statSync(join(dataDir, d)).isDirectory(),
    );
    expect(ids.sort()).toEqual(onDisk.sort());
  });
});

describe('FileTaskStore under crashes and concurrent processes', () => {
  it('leaves task.json parseable, old or new, when a writer is SIGKILLed mid-write', async () => {
    const task = sample();
    await store.create(task);
    await store.update(task.task_id, 1, { status: 'running' });
    let lastVersion = 2;
    for (let round = 0; round < 5; round++) {
      const child = startChild(['loop', dataDir, task.task_id]);
      await waitForLine(child, 'ready');
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 200)));
      await killAndWait(child);

      const text = readFileSync(taskFile(task.task_id), 'utf8');
      expect(text.length).toBeGreaterThan(0);
      const onDisk = JSON.parse(text) as Task;
      expect(onDisk.task_id).toBe(task.task_id);
      expect(onDisk.version).toBeGreaterThan(lastVersion);
      lastVersion = onDisk.version;
      await expect(store.get(task.task_id)).resolves.toMatchObject({
        version: lastVersion,
        status: 'running',
      });
    }
  });

  it('sweeps leftover temp files of dead writers, but not a live writer’s fresh one', async () => {
    const task = sample();
    await store.create(task);
    const dir = store.taskDir(task.task_id);
    const old = join(dir, 'task.json.99999.deadbeef.tmp');
    const fresh = join(dir, 'task.json.99998.cafebabe.tmp');
    writeFileSync(old, '{"half":');
    writeFileSync(fresh, '{"half":');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(old, hourAgo, hourAgo);

    const restarted = new FileTaskStore(AppConfig.fromEnv({ DATA_DIR: dataDir }));
    await restarted.init();
    const removed = await restarted.removeLeftoverTempFiles();
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    await expect(restarted.get(task.task_id)).resolves.toEqual(task);
  });

  it('serialises updates from three processes: no lost update, versions strictly increasing', async () => {
    const task = sample();
    await store.create(task);
    const perChild = 25;
    const racers = ['a', 'b', 'c'].map((label) =>
      output(startChild(['race', dataDir, task.task_id, String(perChild), label])),
    );
    const lists = (await Promise.all(racers)).map((out) => JSON.parse(out.trim()) as number[]);

    for (const versions of lists) {
      expect(versions).toHaveLength(perChild);
      versions.slice(1).forEach((v, i) => expect(v).toBeGreaterThan(versions[i]));
    }
    const all = lists.flat().sort((a, b) => a - b);
    // Every successful write produced a distinct version: two writers never both won the same one.
    expect(all).toEqual(Array.from({ length: 3 * perChild }, (_, i) => i + 2));
    const final = await store.get(task.task_id);
    expect(final!.version).toBe(1 + 3 * perChild);
    expect(tmpFiles(task.task_id)).toEqual([]);
  });
});

describe('FileTaskStore: a cancel racing a completion across processes (RELIABILITY 31)', () => {
  it('settles each of 1,000 tasks once: one winner, the loser refused as an illegal transition', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const task = sample();
      await store.create(task);
      await store.update(task.task_id, 1, { status: 'running' });
      ids.push(task.task_id);
    }
    // Both start on the same task at the same moment and walk the list in the same order.
    const startAt = String(Date.now() + 3000);
    const [completer, canceller] = await Promise.all(
      ['completed', 'cancelled'].map(
        async (status) =>
          JSON.parse(await output(startChild(['settle', dataDir, status, startAt, ...ids]))) as {
            won: string[];
            refused: number;
          },
      ),
    );

    expect(completer.won.length + canceller.won.length).toBe(ids.length);
    expect(new Set([...completer.won, ...canceller.won]).size).toBe(ids.length);
    expect(completer.refused).toBe(canceller.won.length);
    expect(canceller.refused).toBe(completer.won.length);
    const completed = new Set(completer.won);
    for (const id of ids) {
      const onDisk = JSON.parse(readFileSync(taskFile(id), 'utf8')) as Task;
      // created, running, then one terminal write: no lost and no second settling update
      expect(onDisk).toMatchObject({ version: 3, status: completed.has(id) ? 'completed' : 'cancelled' });
      expect(onDisk.history.map((h) => [h.from, h.to])).toEqual([
        [null, 'queued'],
        ['queued', 'running'],
        ['running', onDisk.status],
      ]);
    }
  });

  it('lets the next writer through once a killed holder’s lock is stale, not before', async () => {
    const task = sample();
    await store.create(task);
    const holder = startChild(['hang', dataDir, task.task_id]);
    await waitForLine(holder, 'holding');
    await killAndWait(holder);

    const started = Date.now();
    const next = await store.update(task.task_id, 2, { progress: 60 });
    const waited = Date.now() - started;
    // The holder's write landed (version 2) before it hung; its lock was broken after LOCK_STALE_MS (5 s).
    expect(next).toMatchObject({ version: 3, progress: 60 });
    expect(waited).toBeGreaterThanOrEqual(3000);
    expect(tmpFiles(task.task_id)).toEqual([]);
  });
});

/** What `strace -f -y -e <calls>` printed of a store child run with `args`; needs strace on PATH. */
async function traceChild(args: string[], calls: string): Promise<string> {
  if (!onPath('strace'))
    throw new Error('this test traces system calls: install strace (Debian: apt-get install strace)');
  // Not beside DATA_DIR: another test checks that its parent holds nothing else.
  const traceDir = mkdtempSync(join(tmpdir(), 'nmg-strace-'));
  const trace = join(traceDir, 'trace.txt');
  const child = startChild(args, ['strace', '-f', '-y', '-qq', '-e', calls, '-o', trace]);
  try {
    await output(child);
    return readFileSync(trace, 'utf8');
  } finally {
    rmSync(traceDir, { recursive: true, force: true });
  }
}

describe('FileTaskStore write order, traced with strace', () => {
  /** The durability-relevant system calls of one process, as events on DATA_DIR, the task's directory and its files. */
  async function tracedWrites(args: string[], taskDir: string): Promise<string[]> {
    const text = await traceChild(args, 'trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat');
    const name = (path: string) =>
      path === dataDir
        ? 'DATA_DIR'
        : path === taskDir
          ? 'task dir'
          : path.endsWith('.tmp')
            ? 'temp'
            : basename(path);
    const events: string[] = [];
    for (const line of text.split('\n')) {
      const sync = /\b(fsync|fdatasync)\(\d+<([^>]+)>\) = 0/.exec(line);
      if (sync && (sync[2] === dataDir || sync[2].startsWith(dataDir + '/')))
        events.push(`${sync[1]}(${name(sync[2])})`);
      const move = /\b(rename|link)\w*\(.*?"([^"]+)".*?"([^"]+)".*\) = 0/.exec(line);
      if (move && move[3].startsWith(taskDir)) events.push(`${move[1]}(${name(move[2])} → ${name(move[3])})`);
    }
    return events;
  }

  it('syncs the temp file, then links or renames it to task.json, then syncs the directory', async () => {
    const id = newTaskId();
    const events = await tracedWrites(['once', dataDir, id], join(dataDir, id));
    expect(events).toEqual([
      // create: a new task directory is made durable in DATA_DIR, then the file is published by a hard link
      'fsync(DATA_DIR)',
      'fsync(temp)',
      'link(temp → task.json)',
      'fsync(task dir)',
      // update: the new version replaces the old by a rename
      'fsync(temp)',
      'rename(temp → task.json)',
      'fsync(task dir)',
    ]);
  });
});

describe('FileTaskStore refuses ids that would leave DATA_DIR', () => {
  let evilDir: string;
  const secret = 'TOP-SECRET-OUTSIDE-DATA-DIR';

  beforeAll(() => {
    evilDir = `${dataDir}-evil`;
    mkdirSync(evilDir, { recursive: true });
    writeFileSync(
      join(evilDir, 'task.json'),
      JSON.stringify({ task_id: 'x', version: 1, status: 'queued', secret }),
    );
  });

  const evilIds = () => [
    `../${basename(dataDir)}-evil`,
    `..%2f${basename(dataDir)}-evil`,
    `%2e%2e%2f${basename(dataDir)}-evil`,
    `..%5c${basename(dataDir)}-evil`,
    `..\\${basename(dataDir)}-evil`,
    `ne_scan_../../${basename(dataDir)}-evil`,
    evilDir,
    `${evilDir}\0`,
    '../../etc/passwd',
    '/etc/passwd',
    `\u2024\u2024/${basename(dataDir)}-evil`,
    'ne_scan_' + '../'.repeat(3000),
    '.',
    '..',
    '',
  ];

  it('rejects each one as malformed before touching the file system', async () => {
    for (const id of evilIds()) {
      expect(() => store.taskDir(id)).toThrow(ValidationError);
      await expect(store.get(id)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.update(id, 1, { progress: 1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(store.delete(id)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.create({ ...sample(), task_id: id })).rejects.toBeInstanceOf(ValidationError);
    }
    expect(readdirSync(evilDir)).toEqual(['task.json']);
    expect(readFileSync(join(evilDir, 'task.json'), 'utf8')).toContain(secret);
    expect(readdirSync(root).sort()).toEqual([basename(dataDir), basename(evilDir)].sort());
  });

  it('makes no file-system call outside the code it runs while refusing them (strace)', async () => {
    const ids = Buffer.from(JSON.stringify(evilIds())).toString('base64');
    const text = await traceChild(['evil', dataDir, ids], 'trace=%file,write');
    const lines = text.split('\n');
    const begin = lines.findIndex((l) => /write\(1<[^>]*>, "begin\\n"/.test(l));
    const end = lines.findIndex((l) => /write\(1<[^>]*>, "refused \d+\\n"/.test(l));
    expect(begin).toBeGreaterThan(-1);
    expect(lines[end]).toContain(`"refused ${evilIds().length * 4}\\n"`);
    const project = join(__dirname, '..', '..');
    // Between the markers the child only may load its own code (a lazily required module).
    const touched = lines
      .slice(begin + 1, end)
      .filter((l) => !/\bwrite\(/.test(l))
      .flatMap((l) => [...l.matchAll(/"([^"]*)"/g)].map((m) => m[1]))
      .filter((path) => !path.startsWith(project));
    expect(touched).toEqual([]);
  });

  it('treats a symbolic link planted under a valid task id as no task, reading and writing nothing through it', async () => {
    const id = newTaskId();
    const outside = join(root, 'planted');
    mkdirSync(outside);
    const planted = JSON.stringify(sample(id, { name: 'planted outside' }));
    writeFileSync(join(outside, 'task.json'), planted);
    symlinkSync(outside, join(dataDir, id), 'dir');

    // Followed, the link would have given the outside task back: it names this very id.
    expect(await store.get(id)).toBeNull();
    await expect(store.update(id, 1, { progress: 5 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.create(sample(id))).rejects.toBeInstanceOf(TaskFileError);
    await store.delete(id);
    const ids: string[] = [];
    for await (const listed of store.listIds()) ids.push(listed);
    expect(ids).not.toContain(id);
    // No lock, temp file or task written outside, and the outside task untouched.
    expect(readdirSync(outside)).toEqual(['task.json']);
    expect(readFileSync(join(outside, 'task.json'), 'utf8')).toBe(planted);
    rmSync(join(dataDir, id));
    rmSync(outside, { recursive: true });
  });

  it('never echoes a hostile id at length in its error', async () => {
    const err = (await store.get('ne_scan_' + 'A'.repeat(10_000)).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message.length).toBeLessThan(200);
  });
});
