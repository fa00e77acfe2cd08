import Redis from 'ioredis';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { writeScannersYaml } from '../support/app-harness';
import { GatewayProcess, startGateway } from '../support/process-harness';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/test-redis';

const TOKEN = 'trace-e2e-token-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type LogLine = Record<string, unknown> & { msg?: string; trace_id?: string; task_id?: string };

/**
 * Trace ids end to end: the built gateway (`node dist/main.js`, all mode, debug logs) runs a scan on the
 * simulator; its JSON log lines about the request and every worker step of the task carry the trace id.
 * Progress is read from task.json, so no other request (with its own trace id) touches the task.
 */
describe('X-Trace-Id through the gateway process and its worker steps', () => {
  let sim: SimulatorHandle;
  let gw: GatewayProcess;
  let dir: string;
  const prefix = uniquePrefix('trace');

  async function submit(
    traceId: string,
    targets: string,
  ): Promise<{ header: string | null; body: Record<string, unknown> }> {
    const res = await fetch(`${gw.url}/api/v1/scans`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        'Content-Type': 'application/json',
        'X-Trace-Id': traceId,
      },
      body: JSON.stringify({ targets, name: 'traced scan' }),
    });
    expect(res.status).toBe(202);
    return { header: res.headers.get('x-trace-id'), body: (await res.json()) as Record<string, unknown> };
  }

  function taskFile(taskId: string): Record<string, unknown> | null {
    const file = join(dir, 'tasks', taskId, 'task.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : null;
  }

  async function waitForCompleted(taskId: string): Promise<Record<string, unknown>> {
    const until = Date.now() + 45_000;
    for (;;) {
      const task = taskFile(taskId);
      if (task?.status === 'completed') return task;
      if (Date.now() > until) throw new Error(`task ${taskId} still ${JSON.stringify(task)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  function logLines(): LogLine[] {
    return readFileSync(gw.logPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** Every line about the task: bound to it, or naming it in the message. */
  const linesAbout = (taskId: string) =>
    logLines().filter((l) => l.task_id === taskId || (typeof l.msg === 'string' && l.msg.includes(taskId)));

  beforeAll(async () => {
    if (!existsSync(join(__dirname, '../../dist/main.js'))) throw new Error('run `npm run build` first');
    dir = mkdtempSync(join(tmpdir(), 'nmg-trace-'));
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 1500 } });
    gw = await startGateway(
      {
        APP_MODE: 'all',
        LOG_LEVEL: 'debug',
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
        DATA_DIR: join(dir, 'tasks'),
        SCANNER_CONFIG: writeScannersYaml(dir, {
          nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 2 }],
        }),
        API_KEYS: `tracer:${TOKEN}`,
        POLL_INTERVAL_SECONDS: '1',
      },
      join(dir, 'gateway.log'),
    );
    await gw.ready();
  });

  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
    const redis = new Redis(testRedisUrl());
    await deletePrefix(redis, prefix);
    await redis.quit();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a sane X-Trace-Id is echoed, stored on the task and on every log line of the request and its worker steps', async () => {
    const { header, body } = await submit('my-trace-123', '192.0.2.10');
    expect(header).toBe('my-trace-123');
    expect(body.trace_id).toBe('my-trace-123');
    const taskId = String(body.task_id);
    const task = await waitForCompleted(taskId);
    expect(task.trace_id).toBe('my-trace-123');
    expect(sim.control(0).stats().created_by_name[`orch-${taskId}`]).toBe(1);

    const lines = linesAbout(taskId);
    // The submission's own lines, and the worker's lines for each step it went through.
    expect(lines.some((l) => l.context === 'ScanSubmissionService' && /submitted/.test(String(l.msg)))).toBe(
      true,
    );
    expect(lines.some((l) => l.context === 'ScanPipeline' && /admitted/.test(String(l.msg)))).toBe(true);
    // A job line per queued step; steps due at once run in the same job, each with a line of its own.
    const steps = lines
      .filter((l) => l.context === 'ScanStepProcessor' || l.context === 'ScanPipeline')
      .map((l) => String(l.msg));
    for (const step of ['admit', 'create', 'launch', 'poll', 'export', 'parse']) {
      expect(steps.filter((m) => m.includes(`step ${taskId}:${step}`))).not.toEqual([]);
    }
    const requestLines = logLines().filter((l) => l.trace_id === 'my-trace-123' && l.req !== undefined);
    expect(requestLines.length).toBeGreaterThan(0);
    const untraced = lines.filter((l) => l.trace_id !== 'my-trace-123');
    expect(untraced).toEqual([]);
  });

  it('a body the JSON parser refuses is answered with its trace id and logged once with it', async () => {
    const res = await fetch(`${gw.url}/api/v1/scans`, {
      method: 'POST',
      // With the key: a request without one is refused (401) before its body is read.
      headers: {
        'Content-Type': 'application/json',
        'X-Trace-Id': 'bad-json-trace',
        Authorization: `Bearer ${TOKEN}`,
      },
      body: '{"targets": ',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-trace-id')).toBe('bad-json-trace');
    expect(((await res.json()) as Record<string, unknown>).trace_id).toBe('bad-json-trace');
    // The access line says why the request was refused.
    const traced = () => logLines().filter((l) => l.trace_id === 'bad-json-trace');
    // The line reaches the log file through this process's pipe, maybe after the response.
    for (const until = Date.now() + 3000; traced().length === 0 && Date.now() < until;)
      await new Promise((r) => setTimeout(r, 50));
    const lines = traced();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      req: { method: 'POST', url: '/api/v1/scans' },
      res: { statusCode: 400 },
      msg: 'request completed',
      error: expect.stringMatching(/JSON/),
    });
  });

  it.each([
    ['too long', 'a'.repeat(129), '192.0.2.20'],
    ['with bad characters', 'bad trace/id with spaces', '192.0.2.21'],
  ])(
    'an X-Trace-Id %s is replaced by a UUID that the task and its log lines carry',
    async (_label, insane, target) => {
      const { header, body } = await submit(insane, target);
      expect(header).toMatch(UUID);
      expect(body.trace_id).toBe(header);
      const taskId = String(body.task_id);
      expect((await waitForCompleted(taskId)).trace_id).toBe(header);
      const lines = linesAbout(taskId);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.filter((l) => l.trace_id !== header)).toEqual([]);
      expect(readFileSync(gw.logPath, 'utf8')).not.toContain(insane);
    },
  );
});
