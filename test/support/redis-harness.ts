import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Resolves true when something answers PING at host:port. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(/PONG|NOAUTH/.test(d.toString())));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => existsSync(join(dir, cmd)));
}

/** Starts a private, non-persistent redis-server on a free port; returns its URL and a stop function. */
export async function startPrivateRedis(
  fixedPort?: number,
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'nmg-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !(await redisAnswers('127.0.0.1', port)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(await redisAnswers('127.0.0.1', port))) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${port}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The Redis integration tests use: REDIS_URL when it answers, else a private redis-server when one is
 * on PATH, else an error that says how to get one.
 */
export async function resolveTestRedis(
  envUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
): Promise<{ url: string; stop?: () => Promise<void>; pid?: number }> {
  const u = new URL(envUrl);
  if (await redisAnswers(u.hostname, Number(u.port || 6379))) return { url: envUrl };
  if (onPath('redis-server')) return startPrivateRedis();
  throw new Error(
    `Integration tests need Redis: nothing answers at ${envUrl} and redis-server is not on PATH. ` +
      'Start one (e.g. `apt-get install redis-server` or `docker run -p 6379:6379 redis:7`) or set REDIS_URL.',
  );
}
