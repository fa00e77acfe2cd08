import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, WriteStream } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './redis-harness';

const MAIN = join(__dirname, '../../dist/main.js');

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  logPath: string;
  /** Resolves when /health/ready answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for the exit (SIGKILL included). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the built gateway (`node dist/main.js`) as a separate process, as production does, logging
 * its JSON lines to `logPath`. Tests stop every process they start through the handle.
 */
export async function startGateway(env: Record<string, string>, logPath: string): Promise<GatewayProcess> {
  const port = Number(env.PORT ?? (await freePort()));
  const log: WriteStream = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    logPath,
    async ready(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}; see ${logPath}`);
        try {
          const res = await fetch(`${url}/health/ready`);
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`gateway at ${url} was not ready in ${timeoutMs} ms; see ${logPath}`);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      log.end();
      return code;
    },
  };
}

/** After a failed test: the last lines each process logged, so the failure can be read from CI's output. */
export function printLogTails(processes: GatewayProcess[], lines = 40): void {
  for (const p of processes) {
    if (!existsSync(p.logPath)) continue;
    const tail = readFileSync(p.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    process.stderr.write(`--- last lines of ${p.logPath}\n${tail}\n`);
  }
}
