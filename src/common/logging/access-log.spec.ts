import express from 'express';
import type { Server } from 'node:http';
import { captureJsonLines } from '../../../test/support/log-lines';
import { traceRequests } from './access-log';
import { createAppLogger } from './app-logger';
import { currentTraceFields } from './trace-context';

describe('traceRequests', () => {
  const { sink, lines } = captureJsonLines();
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const app = express();
    app.use(traceRequests(createAppLogger({ level: 'info', mode: 'api' }, sink)));
    // Answers with the trace fields the handler's async context sees.
    app.get('/traced', (_req, res) => void setImmediate(() => res.json(currentTraceFields())));
    app.get('/health/live', (_req, res) => void res.json({}));
    app.get('/hang', () => undefined);
    await new Promise<void>((r) => (server = app.listen(0, '127.0.0.1', () => r())));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (lines.length = 0));

  const settle = () => new Promise((r) => setTimeout(r, 50));

  it('echoes the trace id, binds it to the request context and writes one access line', async () => {
    const res = await fetch(`${url}/traced?x=1`, { headers: { 'X-Trace-Id': 'tr-42' } });
    expect(res.headers.get('x-trace-id')).toBe('tr-42');
    expect(await res.json()).toEqual({ trace_id: 'tr-42' });
    await settle();
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'request completed',
        trace_id: 'tr-42',
        req: { method: 'GET', url: '/traced?x=1' },
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
      }),
    ]);
  });

  it('writes no line for health checks', async () => {
    const res = await fetch(`${url}/health/live`);
    expect(res.headers.get('x-trace-id')).toEqual(expect.any(String));
    await settle();
    expect(lines).toEqual([]);
  });

  it('logs a request whose client hung up before the answer with status 499', async () => {
    const aborted = new AbortController();
    const pending = fetch(`${url}/hang`, { signal: aborted.signal }).catch(() => undefined);
    await settle();
    aborted.abort();
    await pending;
    for (const until = Date.now() + 2000; lines.length === 0 && Date.now() < until;) await settle();
    expect(lines).toEqual([
      expect.objectContaining({ req: { method: 'GET', url: '/hang' }, res: { statusCode: 499 } }),
    ]);
  });
});
