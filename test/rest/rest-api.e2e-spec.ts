import request from 'supertest';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { startTestApp, TestApp } from '../support/app-harness';

const KEY = 'rest-token-one-0123456789';
const OTHER_KEY = 'rest-token-two-9876543210';
const AUTH = { Authorization: `Bearer ${KEY}` };
const OTHER_AUTH = { Authorization: `Bearer ${OTHER_KEY}` };
const UNKNOWN_ID = 'ne_scan_20260101_000000_00000000';
const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];

interface TaskBody {
  task_id: string;
  status: string;
  phase: string;
  results_summary: { severity_breakdown: Record<string, number>; total_vulnerabilities: number } | null;
}

describe('REST API /api/v1 (whole app in all mode, real Redis, Nessus simulator)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;
  let completed: TaskBody;

  const http = () => request(t.url);
  const submit = (body: object, headers: Record<string, string> = {}) =>
    http().post('/api/v1/scans').set(AUTH).set(headers).send(body);

  async function waitForStatus(
    taskId: string,
    done: (s: TaskBody) => boolean,
    timeoutMs = 45_000,
  ): Promise<TaskBody> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await http().get(`/api/v1/scans/${taskId}`).set(AUTH).expect(200);
      if (done(res.body as TaskBody)) return res.body as TaskBody;
      if (Date.now() > until) throw new Error(`task ${taskId} still ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  beforeAll(async () => {
    // scanner2 (pool dmz, one slot) holds its scans for a minute, so a second dmz task stays queued.
    sim = await startSimulator({
      scanners: 2,
      scenario: { scanDurationMs: 1000 },
      perScanner: [undefined, { scanDurationMs: 60_000 }],
    });
    t = await startTestApp(
      {
        APP_MODE: 'all',
        POLL_INTERVAL_SECONDS: '1',
        API_KEYS: `tester:${KEY},other:${OTHER_KEY}`,
        BODY_LIMIT_BYTES: '4096',
      },
      {
        nessus: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 2 }],
        dmz: [{ instance_id: 'scanner2', url: sim.scanners[1].url, max: 1 }],
      },
    );
    const res = await submit({
      targets: ['192.0.2.10', '192.0.2.11'],
      name: 'rest flow',
      schema_profile: 'summary',
    });
    completed = await waitForStatus(res.body.task_id, (s) => TERMINAL.includes(s.status));
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  describe('authentication and tracing', () => {
    it('answers 401 with the error body without a key or with an unknown one', async () => {
      const none = await http().get('/api/v1/scans').expect(401);
      expect(none.body).toMatchObject({
        statusCode: 401,
        error: 'Unauthorized',
        trace_id: expect.any(String),
      });
      expect(none.headers['www-authenticate']).toBe('Bearer');
      const wrong = await http()
        .post('/api/v1/scans')
        .set('Authorization', 'Bearer nope')
        .send({})
        .expect(401);
      expect(wrong.body.message).toMatch(/not a valid API key/);
      await http().get('/api/v1/pools').expect(401);
    });

    it('answers a path that does not exist under /api with 401 too: only a caller with a key learns it is 404', async () => {
      for (const path of ['/api/v1/nothing-here', '/api/v2/scans', '/api/admin']) {
        const anonymous = await http().get(path).expect(401);
        expect(anonymous.body).toMatchObject({ statusCode: 401, trace_id: expect.any(String) });
        expect(anonymous.headers['www-authenticate']).toBe('Bearer');
        await http().get(path).set(AUTH).expect(404);
      }
    });

    it('echoes a sane X-Trace-Id and replaces one that is not', async () => {
      const sane = await http()
        .get('/api/v1/pools')
        .set(AUTH)
        .set('X-Trace-Id', 'ticket-42:abc.DEF_1')
        .expect(200);
      expect(sane.headers['x-trace-id']).toBe('ticket-42:abc.DEF_1');
      const bad = await http()
        .get('/api/v1/pools')
        .set(AUTH)
        .set('X-Trace-Id', 'has spaces/and slashes')
        .expect(200);
      expect(bad.headers['x-trace-id']).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      const long = await http()
        .get('/api/v1/scans/x')
        .set(AUTH)
        .set('X-Trace-Id', 'a'.repeat(129))
        .expect(404);
      expect(long.headers['x-trace-id']).not.toBe('a'.repeat(129));
      expect(long.body.trace_id).toBe(long.headers['x-trace-id']);
    });

    it('stores the trace id of the submission on the task', async () => {
      const res = await submit(
        { targets: '192.0.2.30', name: 'traced' },
        { 'X-Trace-Id': 'trace-rest-7' },
      ).expect(202);
      expect(res.body.trace_id).toBe('trace-rest-7');
      const task = await http().get(`/api/v1/scans/${res.body.task_id}`).set(AUTH).expect(200);
      expect(task.body.trace_id).toBe('trace-rest-7');
    });
  });

  describe('submission', () => {
    it('answers 202 with the run_untrusted_scan response', async () => {
      const res = await submit({ targets: '192.0.2.40', name: 'accepted' }).expect(202);
      expect(res.body).toEqual({
        task_id: expect.stringMatching(/^ne_scan_\d{8}_\d{6}_[0-9a-f]{8}$/),
        trace_id: res.headers['x-trace-id'],
        status: 'queued',
        scanner_pool: 'nessus',
        scanner_instance: null,
        queue_position: expect.anything(),
        estimated_wait_minutes: expect.any(Number),
        idempotent_replay: false,
        message: expect.stringContaining(res.body.task_id),
      });
    });

    it('names each bad field: missing name, bad schema_profile, unknown property', async () => {
      const res = await submit({ targets: '192.0.2.10', schema_profile: 'everything', scanner: 'x' }).expect(
        400,
      );
      expect(res.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        trace_id: res.headers['x-trace-id'],
      });
      expect(Object.keys(res.body.fields).sort()).toEqual(['name', 'scanner', 'schema_profile']);
      expect(res.body.fields.schema_profile).toMatch(/minimal, summary, brief, full/);
      expect(res.body.fields.scanner).toMatch(/not an allowed property/);
      expect(res.body.message).toMatch(/name: .*schema_profile: |schema_profile: .*name: /);
    });

    it.each([
      ['an empty string', ''],
      ['an empty list', []],
      ['a list with a blank entry', ['192.0.2.1', ' ']],
      ['a number', 42],
    ])('refuses targets given as %s', async (_label, targets) => {
      const res = await submit({ targets, name: 'bad targets' }).expect(400);
      expect(Object.keys(res.body.fields)).toEqual(['targets']);
    });

    it('refuses a body that is not a JSON object, and malformed JSON', async () => {
      const list = await submit([{ targets: '192.0.2.1', name: 'in a list' }]).expect(400);
      expect(list.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      const broken = await http()
        .post('/api/v1/scans')
        .set(AUTH)
        .set('Content-Type', 'application/json')
        .send('{"targets": "192.0.2.1", "name": ')
        .expect(400);
      expect(broken.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        trace_id: expect.any(String),
      });
    });

    it('refuses a name over 256 characters and a malformed scanner_pool', async () => {
      const res = await submit({ targets: '192.0.2.1', name: 'n'.repeat(257), scanner_pool: '../x' }).expect(
        400,
      );
      expect(Object.keys(res.body.fields).sort()).toEqual(['name', 'scanner_pool']);
    });

    it('refuses an unknown pool naming the pools', async () => {
      const res = await submit({ targets: '192.0.2.1', name: 'nowhere', scanner_pool: 'mars' }).expect(400);
      expect(res.body.fields.scanner_pool).toMatch(/nessus, dmz/);
    });

    it('refuses a loopback target with 403 naming it', async () => {
      const res = await submit({ targets: ['192.0.2.1', '127.0.0.1'], name: 'loopback' }).expect(403);
      expect(res.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      expect(res.body.message).toContain('127.0.0.1');
    });

    it('never echoes credentials in validation errors', async () => {
      const secret = `S3cret-${'p'.repeat(1100)}`;
      const res = await http()
        .post('/api/v1/scans/authenticated')
        .set(AUTH)
        .send({
          targets: '192.0.2.1',
          name: 'auth',
          scan_type: 'authenticated',
          ssh_username: 'scanuser',
          ssh_password: secret,
          escalation_password: 7,
        })
        .expect(400);
      expect(Object.keys(res.body.fields).sort()).toEqual(['escalation_password', 'ssh_password']);
      expect(res.text).not.toContain('S3cret');
    });

    it('queues an authenticated scan and returns no credential', async () => {
      const res = await http()
        .post('/api/v1/scans/authenticated')
        .set(AUTH)
        .send({
          targets: '192.0.2.50',
          name: 'credentialed',
          scan_type: 'authenticated_privileged',
          ssh_username: 'scanuser',
          ssh_password: 'Hunter2-very-secret',
          elevate_privileges_with: 'sudo',
        })
        .expect(202);
      expect(res.body.status).toBe('queued');
      const task = await http().get(`/api/v1/scans/${res.body.task_id}`).set(AUTH).expect(200);
      expect(task.body.scan_type).toBe('authenticated_privileged');
      expect(JSON.stringify(task.body)).not.toContain('Hunter2');
    });

    it('needs sudo or su for authenticated_privileged', async () => {
      const res = await http()
        .post('/api/v1/scans/authenticated')
        .set(AUTH)
        .send({
          targets: '192.0.2.1',
          name: 'p',
          scan_type: 'authenticated_privileged',
          ssh_username: 'u',
          ssh_password: 'pw',
        })
        .expect(400);
      expect(res.body.fields.elevate_privileges_with).toMatch(/sudo or su/);
    });

    it('replays the same Idempotency-Key and refuses it for another request with 409', async () => {
      const key = `rest-idem-${Date.now()}`;
      const first = await submit({ targets: '192.0.2.60', name: 'idem' }, { 'Idempotency-Key': key }).expect(
        202,
      );
      const again = await submit({ targets: '192.0.2.60', name: 'idem' }, { 'Idempotency-Key': key }).expect(
        202,
      );
      expect(again.body).toMatchObject({ task_id: first.body.task_id, idempotent_replay: true });
      const viaX = await submit({ targets: '192.0.2.60', name: 'idem' }, { 'X-Idempotency-Key': key }).expect(
        202,
      );
      expect(viaX.body.task_id).toBe(first.body.task_id);
      const clash = await submit({ targets: '192.0.2.61', name: 'idem' }, { 'Idempotency-Key': key }).expect(
        409,
      );
      expect(clash.body).toMatchObject({ statusCode: 409, error: 'Conflict', trace_id: expect.any(String) });
      const list = await http()
        .get('/api/v1/scans')
        .query({ target: '192.0.2.60', limit: 50 })
        .set(AUTH)
        .expect(200);
      expect(list.body.tasks.map((x: TaskBody) => x.task_id)).toEqual([first.body.task_id]);
    });

    it('answers 413 with the JSON error body for a body over BODY_LIMIT_BYTES', async () => {
      const res = await http()
        .post('/api/v1/scans')
        .set(AUTH)
        .send({ targets: '192.0.2.1', name: 'big', description: 'd'.repeat(5000) })
        .expect(413);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toMatchObject({
        statusCode: 413,
        error: 'Payload Too Large',
        message: expect.any(String),
      });
      expect(res.headers['x-trace-id']).toEqual(expect.any(String));
      expect(res.body.trace_id).toBe(res.headers['x-trace-id']);
    });
  });

  describe('a completed scan', () => {
    it('ran to completed with findings', () => {
      expect(completed).toMatchObject({ status: 'completed', phase: 'done' });
      expect(completed.results_summary!.severity_breakdown.critical).toBeGreaterThan(0);
    });

    it('reads results as JSON with a filter.<field> parameter', async () => {
      const critical = completed.results_summary!.severity_breakdown.critical;
      const res = await http()
        .get(`/api/v1/scans/${completed.task_id}/results`)
        .query({ 'filter.severity': '>=4', page: 0 })
        .set(AUTH)
        .expect(200);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body.schema.profile).toBe('summary');
      expect(res.body.scan_metadata.task_id).toBe(completed.task_id);
      expect(res.body.vulnerabilities).toHaveLength(critical);
      expect(res.body.vulnerabilities.every((v: { severity: number }) => v.severity === 4)).toBe(true);
      expect(res.body.filters_applied).toEqual({ severity: '>=4' });
      expect(res.body.pagination).toMatchObject({ total_items: critical });
    });

    it('accepts filters as a JSON object with the same outcome', async () => {
      const res = await http()
        .get(`/api/v1/scans/${completed.task_id}/results`)
        .query({ filters: JSON.stringify({ severity: '>=4' }), page: 0, schema_profile: 'minimal' })
        .set(AUTH)
        .expect(200);
      expect(res.body.vulnerabilities).toHaveLength(completed.results_summary!.severity_breakdown.critical);
      expect(Object.keys(res.body.vulnerabilities[0]).sort()).toEqual(
        ['cve', 'cvss_score', 'exploit_available', 'host', 'plugin_id', 'severity'].sort(),
      );
    });

    it('returns JSON lines for Accept: application/x-ndjson', async () => {
      const res = await http()
        .get(`/api/v1/scans/${completed.task_id}/results`)
        .query({ 'filter.severity': '>=3', page_size: 10, custom_fields: 'host,plugin_id,severity' })
        .set(AUTH)
        .set('Accept', 'application/x-ndjson')
        .buffer(true)
        .parse((r, cb) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => cb(null, text));
        })
        .expect(200);
      expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
      const lines = (res.body as string)
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines[0].type).toBe('schema');
      expect(lines[1].type).toBe('scan_metadata');
      const last = lines[lines.length - 1];
      expect(last).toMatchObject({ type: 'pagination', page_size: 10, filters_applied: { severity: '>=3' } });
      const vulns = lines.slice(2, -1);
      expect(vulns.length).toBe(Math.min(10, last.total_items as number));
      for (const v of vulns) {
        expect(v.type).toBe('vulnerability');
        expect(Object.keys(v).sort()).toEqual(['host', 'plugin_id', 'severity', 'type']);
        expect(v.severity as number).toBeGreaterThanOrEqual(3);
      }
    });

    it('names bad results parameters', async () => {
      const base = `/api/v1/scans/${completed.task_id}/results`;
      const bad = await http().get(base).query({ page_size: 'many', sort: 'x' }).set(AUTH).expect(400);
      expect(Object.keys(bad.body.fields).sort()).toEqual(['page_size', 'sort']);
      const field = await http().get(base).query({ 'filter.no_such_field': '1' }).set(AUTH).expect(400);
      expect(Object.keys(field.body.fields)).toEqual(['filters.no_such_field']);
      const json = await http().get(base).query({ filters: '[1,2]' }).set(AUTH).expect(400);
      expect(Object.keys(json.body.fields)).toEqual(['filters']);
      const both = await http()
        .get(base)
        .query({ schema_profile: 'full', custom_fields: 'host' })
        .set(AUTH)
        .expect(400);
      expect(Object.keys(both.body.fields)).toEqual(['custom_fields']);
    });

    it('downloads the raw .nessus report as an attachment', async () => {
      const res = await http()
        .get(`/api/v1/scans/${completed.task_id}/report`)
        .set(AUTH)
        .buffer(true)
        .parse((r, cb) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => cb(null, text));
        })
        .expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/xml/);
      expect(res.headers['content-disposition']).toBe(`attachment; filename="${completed.task_id}.nessus"`);
      expect(res.body as string).toContain('<NessusClientData_v2');
      expect(res.body as string).toContain('192.0.2.10');
    });

    it('lists it, filtered by status, pool and target (CIDR-aware)', async () => {
      const res = await http()
        .get('/api/v1/scans')
        .query({ status: 'completed', pool: 'nessus', target: '192.0.2.0/24', limit: 100 })
        .set(AUTH)
        .expect(200);
      expect(res.body.tasks.map((x: TaskBody) => x.task_id)).toContain(completed.task_id);
      expect(res.body.tasks.every((x: TaskBody) => x.status === 'completed')).toBe(true);
      const bad = await http().get('/api/v1/scans').query({ status: 'done', limit: 0 }).set(AUTH).expect(400);
      expect(Object.keys(bad.body.fields).sort()).toEqual(['limit', 'status']);
      // A filter that can match nothing is a mistake to name, not an empty list.
      for (const target of ['10.0.0.0/33', '192.0.2.9-192.0.2.1', 'not a target!']) {
        const refused = await http().get('/api/v1/scans').query({ target }).set(AUTH).expect(400);
        expect(refused.body.fields).toEqual({
          target: expect.stringMatching(/address, CIDR, range .* host name/),
        });
      }
    });

    it('is invisible to another API key', async () => {
      await http().get(`/api/v1/scans/${completed.task_id}`).set(OTHER_AUTH).expect(404);
      const list = await http().get('/api/v1/scans').set(OTHER_AUTH).expect(200);
      expect(list.body.tasks.map((x: TaskBody) => x.task_id)).not.toContain(completed.task_id);
    });

    it('cannot be cancelled (409)', async () => {
      const res = await http().post(`/api/v1/scans/${completed.task_id}/cancel`).set(AUTH).expect(409);
      expect(res.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(res.body.message).toMatch(/completed/);
    });
  });

  describe('unknown and malformed task ids', () => {
    it.each([
      ['an unknown id', UNKNOWN_ID],
      ['a path traversal', encodeURIComponent('../../etc/passwd')],
      ['300 characters', 'x'.repeat(300)],
    ])('answers 404 for %s on every task route', async (_label, id) => {
      for (const path of [
        `/api/v1/scans/${id}`,
        `/api/v1/scans/${id}/results`,
        `/api/v1/scans/${id}/report`,
      ]) {
        const res = await http().get(path).set(AUTH).expect(404);
        expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found', trace_id: expect.any(String) });
        expect(res.body.message.length).toBeLessThan(200);
      }
      await http().post(`/api/v1/scans/${id}/cancel`).set(AUTH).expect(404);
    });
  });

  describe('a queued task', () => {
    it('reports results as not available, then cancels (and a running one too)', async () => {
      const running = await submit({ targets: '192.0.2.70', name: 'holds dmz', scanner_pool: 'dmz' }).expect(
        202,
      );
      await waitForStatus(running.body.task_id, (s) => s.status === 'running');
      const queued = await submit({ targets: '192.0.2.71', name: 'waits', scanner_pool: 'dmz' }).expect(202);
      expect(queued.body).toMatchObject({ status: 'queued', queue_position: 1 });

      const queue = await http().get('/api/v1/queue').query({ pool: 'dmz' }).set(AUTH).expect(200);
      expect(queue.body).toMatchObject({ pool: 'dmz', queue_depth: 1, running: 1 });
      expect(queue.body.next_tasks[0].task_id).toBe(queued.body.task_id);

      const results = await http().get(`/api/v1/scans/${queued.body.task_id}/results`).set(AUTH).expect(409);
      expect(results.body.message).toMatch(/queued/);
      await http().get(`/api/v1/scans/${queued.body.task_id}/report`).set(AUTH).expect(409);

      const cancelled = await http()
        .post(`/api/v1/scans/${queued.body.task_id}/cancel`)
        .set(AUTH)
        .expect(200);
      expect(cancelled.body).toMatchObject({ task_id: queued.body.task_id, status: 'cancelled' });
      const stopped = await http().post(`/api/v1/scans/${running.body.task_id}/cancel`).set(AUTH).expect(200);
      expect(stopped.body.status).toBe('cancelled');
      await http().post(`/api/v1/scans/${queued.body.task_id}/cancel`).set(AUTH).expect(409);
    });
  });

  describe('infrastructure', () => {
    it('lists scanners, all or by pool', async () => {
      const all = await http().get('/api/v1/scanners').set(AUTH).expect(200);
      expect(all.body).toMatchObject({ total: 2, pools: ['nessus', 'dmz'] });
      expect(JSON.stringify(all.body)).not.toMatch(/password|nessus:nessus/);
      const dmz = await http().get('/api/v1/scanners').query({ pool: 'dmz' }).set(AUTH).expect(200);
      expect(dmz.body.scanners.map((s: { instance_id: string }) => s.instance_id)).toEqual(['scanner2']);
      await http().get('/api/v1/scanners').query({ pool: 'mars' }).set(AUTH).expect(404);
      const bad = await http().get('/api/v1/scanners').query({ pool: 'a b' }).set(AUTH).expect(400);
      expect(Object.keys(bad.body.fields)).toEqual(['pool']);
    });

    it('lists pools and shows one pool', async () => {
      const pools = await http().get('/api/v1/pools').set(AUTH).expect(200);
      expect(pools.body.default_pool).toBe('nessus');
      expect(pools.body.pools.map((p: { name: string }) => p.name)).toEqual(['nessus', 'dmz']);
      const one = await http().get('/api/v1/pools/nessus').set(AUTH).expect(200);
      expect(one.body).toMatchObject({ pool: 'nessus', total_scanners: 1, total_capacity: 2 });
      await http().get('/api/v1/pools/mars').set(AUTH).expect(404);
      await http()
        .get(`/api/v1/pools/${'p'.repeat(300)}`)
        .set(AUTH)
        .expect(404);
    });

    it('shows the default pool queue, and 404 for an unknown pool as the other pool routes', async () => {
      const mars = await http().get('/api/v1/queue').query({ pool: 'mars' }).set(AUTH).expect(404);
      expect(mars.body.message).toBe('unknown scanner pool "mars"; pools: nessus, dmz');
      const res = await http().get('/api/v1/queue').set(AUTH).expect(200);
      expect(res.body).toMatchObject({
        pool: 'nessus',
        queue_depth: expect.any(Number),
        dlq_size: expect.any(Number),
      });
    });
  });

  describe('OpenAPI', () => {
    it('serves the generated document at /api/docs-json behind the API key', async () => {
      await http().get('/api/docs-json').expect(401);
      const res = await http().get('/api/docs-json').set(AUTH).expect(200);
      const doc = res.body;
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths).sort()).toEqual(
        [
          '/api/v1/pools',
          '/api/v1/pools/{pool}',
          '/api/v1/queue',
          '/api/v1/scanners',
          '/api/v1/scans',
          '/api/v1/scans/authenticated',
          '/api/v1/scans/{taskId}',
          '/api/v1/scans/{taskId}/cancel',
          '/api/v1/scans/{taskId}/report',
          '/api/v1/scans/{taskId}/results',
        ].sort(),
      );
      const post = doc.paths['/api/v1/scans'].post;
      expect(post.responses['202']).toBeDefined();
      expect(post.responses['400'].content['application/json'].example).toMatchObject({ statusCode: 400 });
      expect(doc.components.schemas.UntrustedScanDto.required).toEqual(
        expect.arrayContaining(['targets', 'name']),
      );
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      // Every route may meet a Redis outage: each documents the 503 a client then gets.
      const operations = Object.values(
        doc.paths as Record<string, Record<string, { responses: object }>>,
      ).flatMap((ops) => Object.values(ops));
      expect(operations.filter((op) => !('503' in op.responses))).toEqual([]);
      const ui = await http().get('/api/docs').set(AUTH).redirects(1).expect(200);
      expect(ui.text).toMatch(/swagger/i);
    });
  });
});
