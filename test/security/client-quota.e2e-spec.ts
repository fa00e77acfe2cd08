import { readdirSync } from 'node:fs';
import { ERROR_META_KEY } from '../../src/api/mcp/tools/tool-result';
import { WaitingLine } from '../../src/queue/waiting-line';
import { connectClient } from '../mcp/support';
import { startTestApp, TestApp } from '../support/app-harness';

const KEY_A = 'quota-e2e-token-alpha-0123';
const KEY_B = 'quota-e2e-token-bravo-4567';
const CAP = 3;

interface Reply {
  status: number;
  retryAfter: string | null;
  body: { task_id?: string; idempotent_replay?: boolean; message?: string; error?: string };
}

/**
 * MAX_ACTIVE_TASKS_PER_CLIENT through the whole API (api mode, real Redis, no worker: tasks stay queued):
 * the cap holds under concurrent submissions, is per client, frees a place when a task ends, and a
 * refused submission leaves nothing behind (no task, no waiting-line entry, its idempotency key free).
 */
describe('per-client cap on queued and running tasks (REST and MCP)', () => {
  let t: TestApp;
  let seq = 0;

  async function submit(token: string, key = `quota-${Date.now()}-${++seq}`): Promise<Reply> {
    const res = await fetch(`${t.url}/api/v1/scans`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': key,
      },
      body: JSON.stringify({ targets: '192.0.2.10', name: `quota ${key}` }),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as Reply['body'],
    };
  }

  const storedTasks = () => readdirSync(t.dataDir).filter((n) => n.startsWith('ne_scan_'));

  beforeAll(async () => {
    t = await startTestApp({
      APP_MODE: 'api',
      API_KEYS: `alpha:${KEY_A},bravo:${KEY_B}`,
      MAX_ACTIVE_TASKS_PER_CLIENT: String(CAP),
      POLL_INTERVAL_SECONDS: '20',
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('admits exactly the cap of concurrent submissions, refuses the rest with 429, and frees a place at cancel', async () => {
    const keys = Array.from({ length: 8 }, (_, i) => `burst-${Date.now()}-${i}`);
    const replies = await Promise.all(keys.map((k) => submit(KEY_A, k)));
    const accepted = replies.filter((r) => r.status === 202);
    const refused = replies.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(CAP);
    expect(refused).toHaveLength(keys.length - CAP);
    expect(refused[0].body.message).toMatch(
      /client alpha has 3 queued or running tasks, the most MAX_ACTIVE_TASKS_PER_CLIENT allows/,
    );
    // A place frees when a task ends, which a poll sees at the earliest.
    expect(refused.map((r) => r.retryAfter)).toEqual(refused.map(() => '20'));
    // Nothing of a refused submission is stored or queued.
    expect(storedTasks()).toHaveLength(CAP);
    expect(await t.app.get(WaitingLine).size('nessus')).toBe(CAP);

    // Another client has its own cap.
    expect((await submit(KEY_B)).status).toBe(202);
    // A replay of an accepted submission is not a new task: it is answered, not refused.
    const acceptedKey = keys[replies.findIndex((r) => r.status === 202)];
    const replay = await submit(KEY_A, acceptedKey);
    expect(replay).toMatchObject({ status: 202, body: { idempotent_replay: true } });

    const cancel = await fetch(`${t.url}/api/v1/scans/${accepted[0].body.task_id}/cancel`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY_A}` },
    });
    expect(cancel.status).toBe(200);
    // The key a refusal answered was never used: it now makes a new task.
    const refusedKey = keys[replies.findIndex((r) => r.status === 429)];
    const retried = await submit(KEY_A, refusedKey);
    expect(retried).toMatchObject({ status: 202, body: { idempotent_replay: false } });
    expect((await submit(KEY_A)).status).toBe(429);
  });

  it('answers an MCP submission over the cap with a tool error carrying 429', async () => {
    const client = await connectClient('v2-streamable', t.url, KEY_A);
    try {
      const result = await client.callTool('run_untrusted_scan', { targets: '192.0.2.11', name: 'over' });
      expect(result.isError).toBe(true);
      expect(result.content[0].text).toMatch(/MAX_ACTIVE_TASKS_PER_CLIENT/);
      expect(result._meta?.[ERROR_META_KEY]).toMatchObject({ status: 429, retry_after_seconds: 20 });
    } finally {
      await client.close();
    }
  });
});
