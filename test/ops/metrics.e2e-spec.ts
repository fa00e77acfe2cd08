import request from 'supertest';
import { startSimulator, SimulatorHandle } from '../../simulator/simulator';
import { ScanQueries } from '../../src/scans/scan-queries.service';
import { ScanSubmissionService } from '../../src/scans/scan-submission.service';
import { startTestApp, type TestApp } from '../support/app-harness';
import { sample } from './prometheus-text';
import { waitFor } from '../support/wait-for';

const KEY = 'ops-metrics-key-0123456789';
const ctx = { clientId: 'anonymous', traceId: 'trace-ops-metrics' };

describe('/metrics after a scan (all mode, real Redis, simulator)', () => {
  let sim: SimulatorHandle;
  let t: TestApp;

  beforeAll(async () => {
    sim = await startSimulator({ scanners: 1, scenario: { scanDurationMs: 500, findingsPerHost: 3 } });
    t = await startTestApp(
      { APP_MODE: 'all', POLL_INTERVAL_SECONDS: '1', API_KEYS: `ops:${KEY}` },
      { main: [{ instance_id: 'scanner1', url: sim.scanners[0].url, max: 2 }] },
    );
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  const scrape = () => request(t.url).get('/metrics').set('Authorization', `Bearer ${KEY}`);

  it('refuses a scrape without the API key and answers Prometheus text with it', async () => {
    const denied = await request(t.url).get('/metrics');
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer');
    const wrong = await request(t.url).get('/metrics').set('Authorization', 'Bearer nope');
    expect(wrong.status).toBe(401);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(ok.text).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('shows the queue, pool capacity, scanner leases and circuit, and every source up', async () => {
    const { text } = await scrape();
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(sample(text, 'nmg_queue_jobs', { state })).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'nmg_dead_letter_tasks')).toBe(0);
    expect(sample(text, 'nmg_pool_capacity', { pool: 'main' })).toBe(2);
    expect(sample(text, 'nmg_pool_available_capacity', { pool: 'main' })).toBe(2);
    expect(sample(text, 'nmg_pool_waiting_tasks', { pool: 'main' })).toBe(0);
    expect(sample(text, 'nmg_scanner_max_concurrent_scans', { pool: 'main', scanner: 'scanner1' })).toBe(2);
    expect(sample(text, 'nmg_scanner_active_scans', { pool: 'main', scanner: 'scanner1' })).toBe(0);
    expect(sample(text, 'nmg_scanner_circuit_state', { pool: 'main', scanner: 'scanner1' })).toBe(0);
    for (const source of ['queue', 'dead_letters', 'waiting_lines', 'scanners']) {
      expect(sample(text, 'nmg_metrics_source_up', { source })).toBe(1);
    }
  });

  it('counts HTTP requests by route template and status in latency buckets', async () => {
    await request(t.url)
      .get('/api/v1/scans/ne_scan_20260101_000000_00000000')
      .set('Authorization', `Bearer ${KEY}`);
    await request(t.url)
      .get('/api/v1/scans/ne_scan_20260101_000000_00000001')
      .set('Authorization', `Bearer ${KEY}`);
    const { text } = await scrape();
    const labels = { method: 'GET', route: '/api/v1/scans/:taskId', status_code: '404' };
    expect(sample(text, 'nmg_http_request_duration_seconds_count', labels)).toBe(2);
    expect(sample(text, 'nmg_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(2);
    // Refused requests count too (a guard answers them before any interceptor would run).
    expect(
      sample(text, 'nmg_http_request_duration_seconds_count', { route: '/metrics', status_code: '401' }),
    ).toBe(2);
  });

  it('records the transitions of a completed scan', async () => {
    const submit = t.app.get(ScanSubmissionService);
    const queries = t.app.get(ScanQueries);
    const res = await submit.submitUntrusted({ name: 'metrics', targets: '192.0.2.10' }, ctx);
    await waitFor(
      () => queries.status(res.task_id, ctx.clientId),
      (s) => s.status === 'completed',
    );
    const { text } = await scrape();
    expect(sample(text, 'nmg_task_transitions_total', { from: 'none', to: 'queued' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      sample(text, 'nmg_task_transitions_total', { from: 'queued', to: 'running' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'nmg_task_transitions_total', { from: 'running', to: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'nmg_nessus_api_calls_total', {
        scanner: 'scanner1',
        operation: 'launch scan',
        outcome: 'ok',
      }),
    ).toBe(1);
  });
});
