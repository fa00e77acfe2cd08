import express, { type NextFunction, type Request, type Response } from 'express';
import { INVALID_CREDENTIALS, nessus6Js } from './auth';
import { ScanError, type SimScan } from './scan-engine';
import type { ScannerInstance } from './scanner-instance';
import { FOLDERS, PRODUCT, SCAN_TEMPLATES } from './templates';

export type ScannerLookup = {
  scanner(index: number): ScannerInstance | undefined;
  caPem: string | null;
};

const epochNow = () => Math.floor(Date.now() / 1000);

function fail(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

function scanId(req: Request): number {
  const id = Number(req.params.id);
  if (!Number.isInteger(id) || id <= 0) throw new ScanError(404, 'The requested scan does not exist.');
  return id;
}

/** Wraps a handler so ScanError and other throws become Nessus-style JSON errors. */
function h(fn: (req: Request, res: Response) => unknown | Promise<unknown>) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await fn(req, res);
    } catch (err) {
      if (err instanceof ScanError) return fail(res, err.status, err.message);
      next(err);
    }
  };
}

function scanListEntry(s: SimScan) {
  const launched = s.launches > 0;
  return {
    folder_id: s.folderId,
    type: launched ? 'local' : null,
    read: true,
    last_modification_date: launched ? s.lastModified : 0,
    creation_date: launched ? s.creationDate : 0,
    status: s.status,
    uuid: s.runUuid,
    shared: false,
    user_permissions: 128,
    owner: 'nessus',
    timezone: null,
    rrules: null,
    starttime: null,
    enabled: false,
    control: true,
    live_results: 0,
    name: s.name,
    id: s.id,
  };
}

function scanSettingsView(s: SimScan) {
  return {
    container_id: 0,
    uuid: s.scheduleUuid,
    name: s.name,
    description: s.description,
    policy_id: null,
    scanner_id: 1,
    emails: null,
    attach_report: 0,
    attached_report_maximum_size: 26214400,
    attached_report_type: null,
    sms: null,
    enabled: 0,
    use_dashboard: 0,
    dashboard_file: null,
    live_results: 0,
    scan_time_window: null,
    custom_targets: s.textTargets,
    migrated: 0,
    starttime: null,
    rrules: null,
    timezone: null,
    notification_filters: null,
    shared: 0,
    user_permissions: 128,
    default_permisssions: 0,
    owner: 'nessus',
    owner_id: 1,
    last_modification_date: s.lastModified,
    creation_date: s.creationDate,
    type: 'public',
    id: s.id,
  };
}

function scanDetails(scanner: ScannerInstance, s: SimScan) {
  const hosts = scanner.engine.hostsView(s);
  const vulns = new Map<
    number,
    { count: number; severity: number; plugin_family: string; plugin_name: string }
  >();
  for (const host of hosts) {
    for (const f of host.findings) {
      const v = vulns.get(f.pluginID);
      if (v) v.count++;
      else
        vulns.set(f.pluginID, {
          count: 1,
          severity: f.severity,
          plugin_family: f.pluginFamily,
          plugin_name: f.pluginName,
        });
    }
  }
  const template = SCAN_TEMPLATES.find((t) => t.uuid === s.templateUuid);
  return {
    info: {
      control: true,
      edit_allowed: true,
      hasaudittrail: true,
      user_permissions: 128,
      alt_targets_used: null,
      targets: s.textTargets,
      uuid: s.runUuid,
      hostcount: hosts.length,
      object_id: s.id,
      acls: [{ display_name: 'nessus', name: 'nessus', owner: 1, type: 'user', id: 2, permissions: 128 }],
      policy: template?.title ?? 'Advanced Scan',
      no_target: null,
      scanner_name: 'Local Scanner',
      scan_end: s.scanEnd,
      status: s.status,
      scanner_end: s.scanEnd,
      timestamp: s.lastModified,
      scan_type: 'local',
      scan_start: s.scanStart,
      scanner_start: s.scanStart,
      folder_id: s.folderId,
      name: s.name,
      haskb: true,
      'pci-can-upload': false,
      schedule_uuid: s.scheduleUuid,
      owner: 'nessus',
      shared: false,
    },
    hosts: hosts.map(({ findings: _findings, ...rest }) => rest),
    vulnerabilities: [...vulns.entries()].map(([plugin_id, v], i) => ({
      count: v.count,
      severity: v.severity,
      plugin_family: v.plugin_family,
      vuln_index: i,
      severity_index: i,
      plugin_name: v.plugin_name,
      plugin_id,
    })),
    compliance: [],
    comphosts: [],
    notes: null,
    remediations: {
      num_cves: 0,
      remediations: null,
      num_impacted_hosts: 0,
      num_hosts: hosts.length,
      num_remediated_cves: 0,
    },
    filters: [],
    history: s.history.length ? s.history.map((x) => ({ ...x })) : null,
  };
}

/** Collects SSH credentials from a create/configure body; only their presence is kept. */
function hasSshCredentials(body: Record<string, unknown>): boolean {
  const creds = body.credentials as { add?: { Host?: { SSH?: unknown[] } } } | undefined;
  return Array.isArray(creds?.add?.Host?.SSH) && creds.add.Host.SSH.length > 0;
}

/** The Nessus HTTP API of one simulated scanner, plus its control API under /_sim. */
export function buildApp(scanner: ScannerInstance, lookup: ScannerLookup): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use((_req, res, next) => {
    res.setHeader('Server', 'NessusWWW');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.setHeader('Expires', '0');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.use('/_sim', controlRouter(scanner, lookup));

  // outage and latency apply to the Nessus API only, never to the control API
  app.use((req, res, next) => {
    const sc = scanner.scenario();
    if (sc.down === 'reset' || sc.down === 'refuse') {
      req.socket.destroy();
      return;
    }
    if (sc.down === '503') return fail(res, 503, 'Service Unavailable');
    if (scanner.engine.injectError()) {
      if (req.method === 'GET') return fail(res, 503, 'Service Unavailable');
      // A write whose answer is lost: it takes effect on the scanner, the client sees 503.
      const answer = res.json.bind(res);
      res.json = () => {
        res.json = answer;
        fail(res, 503, 'Service Unavailable');
        return res;
      };
    }
    if (sc.latencyMs > 0) setTimeout(next, sc.latencyMs);
    else next();
  });

  app.use(express.json({ type: ['application/json', 'text/plain'], limit: '5mb' }));
  app.use(express.urlencoded({ extended: false }));

  const guard = (scanWrite: boolean) => (req: Request, res: Response, next: NextFunction) => {
    const result = scanner.auth.check(req.headers, scanWrite);
    if (!result.ok) return fail(res, result.status, result.error);
    next();
  };
  const body = (req: Request): Record<string, unknown> =>
    req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};

  app.get('/', (_req, res) => {
    res
      .type('html')
      .send(
        `<!doctype html><html><head><title>Nessus</title></head><body><script src="/nessus6.js?v=${Date.now()}"></script></body></html>`,
      );
  });
  app.get('/nessus6.js', (_req, res) => {
    res.type('application/javascript').send(nessus6Js(scanner.scenario().apiToken, PRODUCT.uiVersion));
  });

  app.get('/server/status', (_req, res) => {
    const ready = scanner.scenario().serverStatus === 'ready';
    res.json(
      ready ? { code: 200, progress: null, status: 'ready' } : { code: 503, progress: 42, status: 'loading' },
    );
  });
  app.get('/server/properties', (req, res) => {
    const basic = {
      nessus_type: PRODUCT.type,
      server_version: PRODUCT.serverVersion,
      nessus_ui_build: PRODUCT.uiBuild,
      nessus_ui_version: PRODUCT.uiVersion,
      server_build: PRODUCT.uiBuild,
    };
    if (!scanner.auth.check(req.headers, false).ok) return res.json(basic);
    const scanApi = !scanner.scenario().requireApiToken;
    res.json({
      ...basic,
      platform: 'LINUX',
      plugin_set: '202501010000',
      loaded_plugin_set: '202501010000',
      idle_timeout: String(Math.round(scanner.scenario().sessionTtlMs / 60000)),
      restarting: false,
      feed_error: 0,
      capabilities: { multi_scanner: false, multi_user: 'full', report_email_config: false },
      features: { api: true, scan_api: scanApi, policies: true, report: true, users: true, folders: true },
      license: {
        type: scanApi ? 'manager' : 'pro',
        name: scanApi ? 'Nessus Manager' : 'Nessus Professional',
        restricted: false,
        ips: -1,
        features: { api: true, scan_api: scanApi },
      },
      update: { href: null, new_version: 0, restart: 0 },
      notifications: [],
    });
  });

  app.post('/session', (req, res) => {
    const b = body(req);
    const token = scanner.auth.login(b.username, b.password);
    if (!token) return fail(res, 401, INVALID_CREDENTIALS);
    res.json({ token });
  });
  app.get('/session', guard(false), (req, res) => {
    const username = scanner.auth.sessionUser(req.headers) ?? scanner.scenario().username;
    res.json({
      id: 1,
      username,
      name: username,
      email: '',
      type: 'local',
      permissions: 128,
      lastlogin: epochNow(),
      groups: null,
    });
  });
  app.delete('/session', (req, res) => {
    if (!scanner.auth.logout(req.headers))
      return fail(res, 401, 'You need to log in to perform this request');
    res.status(200).end();
  });
  app.put('/session/keys', guard(false), (_req, res) => {
    const keys = scanner.auth.regenerateKeys();
    void scanner.setScenario(keys).then(() => res.json(keys));
  });

  app.get(['/editor/scan/templates', '/editor/policy/templates'], guard(false), (_req, res) => {
    res.json({ templates: SCAN_TEMPLATES });
  });
  app.get('/policies', guard(false), (_req, res) => res.json({ policies: null }));
  app.get('/folders', guard(false), (_req, res) => res.json({ folders: FOLDERS }));
  app.get('/scanners', guard(false), (_req, res) => {
    res.json({
      scanners: [
        {
          id: 1,
          uuid: '00000000-0000-0000-0000-00000000000000000000000000000',
          name: 'Local Scanner',
          type: 'local',
          status: 'on',
          linked: 1,
          engine_version: PRODUCT.serverVersion,
          ui_version: PRODUCT.uiVersion,
          ui_build: PRODUCT.uiBuild,
          platform: 'LINUX',
          scan_count: scanner.stats().running,
          owner: 'nessus_ms_agent',
          owner_id: 1,
          shared: 1,
          user_permissions: 64,
        },
      ],
    });
  });

  app.post('/file/upload', guard(false), (req, res) => {
    // the upload content is consumed and dropped: the simulator never keeps key material
    const type = String(req.headers['content-type'] ?? '');
    let head = '';
    req.on('data', (chunk: Buffer) => {
      if (head.length < 4096) head += chunk.toString('latin1');
    });
    req.on('end', () => {
      if (!type.startsWith('multipart/form-data'))
        return fail(res, 400, 'File upload must be multipart/form-data');
      const m = /name="Filedata";\s*filename="([^"]*)"/.exec(head);
      if (!m) return fail(res, 400, 'Missing Filedata field');
      res.json({ fileuploaded: m[1] || 'upload' });
    });
  });

  app.get('/scans', guard(false), (_req, res) => {
    const scans = scanner.engine.list();
    res.json({
      folders: FOLDERS,
      scans: scans.length ? scans.map(scanListEntry) : null,
      timestamp: epochNow(),
    });
  });

  app.post(
    '/scans',
    guard(true),
    h((req, res) => {
      const b = body(req);
      const settings = (b.settings ?? {}) as Record<string, unknown>;
      const template = SCAN_TEMPLATES.find((t) => t.uuid === b.uuid);
      if (!template) return fail(res, 400, "Invalid 'uuid' field: template not found");
      if (typeof settings.name !== 'string' || !settings.name.trim())
        return fail(res, 400, "Invalid 'name' field");
      const targets = typeof settings.text_targets === 'string' ? settings.text_targets : '';
      if (!targets.trim()) return fail(res, 400, "Invalid 'text_targets' field");
      const scan = scanner.engine.create({
        name: settings.name,
        description: typeof settings.description === 'string' ? settings.description : null,
        templateUuid: template.uuid,
        textTargets: targets,
        folderId: Number(settings.folder_id ?? 3) || 3,
        settings: { ...settings },
        credentialed: hasSshCredentials(b),
      });
      if (settings.launch_now === true || settings.launch_now === 'true') scanner.engine.launch(scan.id);
      res.json({ scan: scanSettingsView(scan) });
    }),
  );

  app.get(
    '/scans/:id',
    guard(false),
    h((req, res) => {
      res.json(scanDetails(scanner, scanner.engine.get(scanId(req))));
    }),
  );
  app.put(
    '/scans/:id',
    guard(true),
    h((req, res) => {
      const scan = scanner.engine.get(scanId(req));
      const settings = (body(req).settings ?? {}) as Record<string, unknown>;
      if (typeof settings.name === 'string') scan.name = settings.name;
      if (typeof settings.text_targets === 'string') scan.textTargets = settings.text_targets;
      if (settings.folder_id !== undefined) scan.folderId = Number(settings.folder_id) || scan.folderId;
      if (hasSshCredentials(body(req))) scan.credentialed = true;
      res.json(scanSettingsView(scan));
    }),
  );
  app.delete(
    '/scans/:id',
    guard(true),
    h((req, res) => {
      scanner.engine.delete(scanId(req));
      res.status(200).end();
    }),
  );
  app.post(
    '/scans/:id/launch',
    guard(true),
    h((req, res) => {
      res.json({ scan_uuid: scanner.engine.launch(scanId(req)) });
    }),
  );
  for (const action of ['pause', 'resume', 'stop', 'kill'] as const) {
    app.post(
      `/scans/:id/${action}`,
      guard(true),
      h((req, res) => {
        scanner.engine[action](scanId(req));
        res.json({});
      }),
    );
  }

  app.post(
    '/scans/:id/export',
    guard(false),
    h((req, res) => {
      const scan = scanner.engine.get(scanId(req));
      const format = body(req).format ?? req.query.format;
      if (format !== 'nessus') return fail(res, 400, "Invalid 'format' field: only nessus is simulated");
      if (scan.launches === 0) return fail(res, 400, 'The scan has no results to export.');
      res.json(scanner.exports.request(scan));
    }),
  );
  app.get(
    '/scans/:id/export/:file/status',
    guard(false),
    h((req, res) => {
      const job = scanner.exports.findByFile(scanId(req), Number(req.params.file));
      if (!job) return fail(res, 404, 'The requested file was not found.');
      res.json({ status: scanner.exports.status(job) });
    }),
  );
  const download = (job: ReturnType<typeof scanner.exports.findByToken>, res: Response) => {
    if (!job) return fail(res, 404, 'The requested file was not found.');
    const status = scanner.exports.status(job);
    if (status !== 'ready') return fail(res, 409, `Report is not ready (status ${status}).`);
    return scanner.exports.download(job, res);
  };
  app.get(
    '/scans/:id/export/:file/download',
    guard(false),
    h((req, res) => download(scanner.exports.findByFile(scanId(req), Number(req.params.file)), res)),
  );
  // the export token is itself the bearer credential: no session needed (§7.2)
  app.get('/tokens/:token/status', (req, res) => {
    const job = scanner.exports.findByToken(String(req.params.token));
    if (!job) return fail(res, 404, 'The requested file was not found.');
    const status = scanner.exports.status(job);
    res.json(status === 'error' ? { status, error: true, message: 'Export failed.' } : { status });
  });
  app.get(
    '/tokens/:token/download',
    h((req, res) => download(scanner.exports.findByToken(String(req.params.token)), res)),
  );

  app.use((_req: Request, res: Response) => fail(res, 404, 'The requested resource was not found.'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 400) return fail(res, 400, 'Invalid JSON body');
    fail(res, 500, 'An internal error occurred.');
  });
  return app;
}

/** /_sim: scenario changes, stats, reset and the CA certificate, for tests and demos. */
function controlRouter(own: ScannerInstance, lookup: ScannerLookup): express.Router {
  const router = express.Router();
  router.use(express.json());
  const target = (req: Request): ScannerInstance | undefined =>
    req.query.scanner === undefined ? own : lookup.scanner(Number(req.query.scanner));
  const withTarget =
    (fn: (s: ScannerInstance, req: Request, res: Response) => unknown) =>
    async (req: Request, res: Response) => {
      const s = target(req);
      if (!s) return fail(res, 404, 'No such simulated scanner.');
      try {
        await fn(s, req, res);
      } catch (err) {
        fail(res, 400, (err as Error).message);
      }
    };
  router.get(
    '/stats',
    withTarget((s, _req, res) => res.json({ instance: s.instanceName, ...s.stats() })),
  );
  router.get(
    '/scenario',
    withTarget((s, _req, res) => res.json(redactScenario(s))),
  );
  router.post(
    '/scenario',
    withTarget(async (s, req, res) => {
      await s.setScenario(req.body ?? {}, res);
      res.json(redactScenario(s));
    }),
  );
  router.post(
    '/reset',
    withTarget(async (s, _req, res) => {
      await s.reset();
      res.json({ ok: true });
    }),
  );
  router.post(
    '/expire-sessions',
    withTarget((s, _req, res) => {
      s.expireSessions();
      res.json({ ok: true });
    }),
  );
  router.get('/cert', (_req, res) => {
    if (!lookup.caPem) return fail(res, 404, 'The simulator runs over plain HTTP.');
    res.type('application/x-pem-file').send(lookup.caPem);
  });
  return router;
}

function redactScenario(s: ScannerInstance) {
  const { password: _p, secretKey: _s, ...rest } = s.scenario();
  return { instance: s.instanceName, ...rest };
}
