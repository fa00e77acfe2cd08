import { AppError, ConflictError } from '../common/errors';
import { Task, TaskPatch } from './task';

/** A write carried an older version than the stored task: the writer lost its claim and must re-read. */
export class StaleVersionError extends ConflictError {
  constructor(
    readonly taskId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      `task ${taskId} changed meanwhile (version ${actualVersion}, expected ${expectedVersion}); re-read it`,
    );
  }
}

/** task.json exists but cannot be read as a task (corrupt, hand-edited, wrong id). */
export class TaskFileError extends AppError {
  readonly status = 500;
  readonly error = 'Internal Server Error';
  constructor(
    readonly taskId: string,
    reason: string,
  ) {
    super(`task ${taskId}: stored task.json is unreadable (${reason})`);
  }
}

// Reads in flight during a walk: enough to keep the disk busy, few enough to bound memory.
const WALK_BATCH = 200;

/**
 * Port: durable storage of tasks, the source of truth. Every method taking a task id refuses a
 * malformed id (ValidationError) before building any path.
 */
export abstract class TaskStore {
  /** Stores a new task unless one with its id exists; exactly one of several concurrent creators wins. */
  abstract create(task: Task): Promise<'created' | 'exists'>;

  /** The stored task, or null when there is none. Throws TaskFileError for an unreadable file. */
  abstract get(taskId: string): Promise<Task | null>;

  /**
   * Compare-and-swap: applies `patch` through the state machine to the stored task if its version is
   * `expectedVersion`, and returns the new task (version + 1). Throws StaleVersionError when the version
   * differs, InvalidTransitionError for a refused transition, NotFoundError for an unknown task.
   * `written` (which must not throw) gets the task as it was and as it is, once the write is durable.
   */
  abstract update(
    taskId: string,
    expectedVersion: number,
    patch: TaskPatch,
    written?: (previous: Task, next: Task) => void,
  ): Promise<Task>;

  /** The task's directory (task.json, the raw export, parsed findings). */
  abstract taskDir(taskId: string): string;

  /** Every stored task id, streamed (for index rebuilds and housekeeping); order unspecified. */
  abstract listIds(): AsyncIterable<string>;

  /** Removes the task and its directory; a missing task is not an error. */
  abstract delete(taskId: string): Promise<void>;

  /**
   * Every stored task, read a batch at a time (for walks over all of them: index rebuilds, key restores);
   * a task whose file can't be read is handed to `skipped` and left out.
   */
  async *batches(skipped: (taskId: string, err: Error) => void): AsyncIterable<Task[]> {
    let ids: string[] = [];
    const read = async () => {
      const tasks = await Promise.all(
        ids.map((id) =>
          this.get(id).catch((err: Error) => {
            skipped(id, err);
            return null;
          }),
        ),
      );
      ids = [];
      return tasks.filter((task): task is Task => task !== null);
    };
    for await (const id of this.listIds()) {
      ids.push(id);
      if (ids.length >= WALK_BATCH) yield await read();
    }
    if (ids.length) yield await read();
  }

  /**
   * Removes what writers killed mid-write left behind, if older than `olderThanMs` (younger ones may
   * belong to a live writer); returns how many. It visits every task, so housekeeping runs it daily.
   */
  abstract removeLeftoverTempFiles(olderThanMs?: number): Promise<number>;
}
