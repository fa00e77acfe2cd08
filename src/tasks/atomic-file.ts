import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Suffix of every temporary file; anything ending in it inside a task directory may be swept by housekeeping. */
export const TEMP_SUFFIX = '.tmp';

function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`,
  );
}

/** Removes a temporary file, if it is still there (one unlink; `rm` would lstat first). */
async function removeTemp(tmp: string): Promise<void> {
  await unlink(tmp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** fsync a directory so a rename or new entry in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic there.
    if (!['EINVAL', 'ENOTSUP', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

/** Writes a temporary file beside `target` and fsyncs it; the caller commits or removes it. */
async function writeTemp(target: string, data: string | Buffer): Promise<string> {
  const tmp = tempPathFor(target);
  const handle = await open(tmp, 'wx', 0o640);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await removeTemp(tmp);
    throw err;
  }
  await handle.close();
  return tmp;
}

/**
 * Atomic, durable replace: temp file in the same directory, fsync, rename over `target`, fsync the
 * directory. Readers see the old or the new content, never a torn file. `beforeCommit` may throw to
 * abandon the write (e.g. a lock was lost) and the target stays untouched.
 */
export async function atomicWriteFile(
  target: string,
  data: string | Buffer,
  beforeCommit?: () => void,
): Promise<void> {
  const tmp = await writeTemp(target, data);
  try {
    beforeCommit?.();
    await rename(tmp, target);
  } catch (err) {
    await removeTemp(tmp);
    throw err;
  }
  await fsyncDir(dirname(target));
}

/**
 * Creates `target` with `data` only if it does not exist, atomically: the complete temp file is
 * hard-linked to the final name (link fails on an existing name), so a concurrent creator or a reader
 * never sees a half-written file. Returns false when `target` already existed.
 */
export async function createFileExclusive(target: string, data: string | Buffer): Promise<boolean> {
  const tmp = await writeTemp(target, data);
  try {
    await link(tmp, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await removeTemp(tmp);
  }
  await fsyncDir(dirname(target));
  return true;
}
