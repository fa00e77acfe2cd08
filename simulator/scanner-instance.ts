import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { AuthService } from './auth';
import { ExportService } from './exports';
import { ScanEngine, type ScanStats } from './scan-engine';
import { DEFAULT_SCENARIO, parseScenarioPatch, type Scenario } from './scenario';
import type { SimulatorCertificates } from './certificates';
import { buildApp, type ScannerLookup } from './routes';

/** Control surface of one simulated scanner, used by tests in-process and by the /_sim API. */
export interface ScannerControl {
  readonly instanceName: string;
  scenario(): Scenario;
  setScenario(patch: Partial<Scenario> | Record<string, unknown>): Promise<Scenario>;
  stats(): ScanStats;
  reset(): Promise<void>;
  /** Invalidates every session: the next call with an old token gets 401. */
  expireSessions(): void;
}

/** One simulated Nessus scanner: its own port, scans, sessions and scenario. */
export class ScannerInstance implements ScannerControl {
  readonly engine: ScanEngine;
  readonly auth: AuthService;
  readonly exports: ExportService;
  private current: Scenario;
  private server: http.Server | https.Server | null = null;
  private sockets = new Set<Socket>();
  private boundPort = 0;
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    readonly index: number,
    readonly instanceName: string,
    private readonly initial: Scenario,
    private readonly host: string,
    private readonly certs: SimulatorCertificates | null,
    private readonly lookup: ScannerLookup,
  ) {
    this.current = { ...initial };
    const get = () => this.current;
    this.engine = new ScanEngine(get);
    this.auth = new AuthService(get);
    this.exports = new ExportService(get, this.engine);
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${this.certs ? 'https' : 'http'}://${h === '0.0.0.0' ? '127.0.0.1' : h}:${this.boundPort}`;
  }

  scenario(): Scenario {
    return { ...this.current };
  }

  async start(port: number): Promise<void> {
    // the ticker keeps transitions (and max_running) accurate even when nobody polls
    this.ticker = setInterval(() => this.engine.tick(), 50);
    this.ticker.unref();
    await this.listen(port);
    if (this.current.down === 'refuse') await this.closeListener();
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    await this.closeListener();
  }

  /** `answering`: the control request being served on this scanner's own port, closed only after it is answered. */
  async setScenario(
    patch: Partial<Scenario> | Record<string, unknown>,
    answering?: http.ServerResponse,
  ): Promise<Scenario> {
    const parsed = parseScenarioPatch(patch);
    const wasRefusing = this.current.down === 'refuse';
    this.engine.tick();
    this.current = { ...this.current, ...parsed };
    const refusing = this.current.down === 'refuse';
    if (refusing && !wasRefusing) {
      if (answering) answering.once('finish', () => void this.closeListener());
      else await this.closeListener();
    }
    if (!refusing && wasRefusing) await this.listen(this.boundPort);
    return this.scenario();
  }

  stats(): ScanStats {
    return this.engine.stats();
  }

  async reset(): Promise<void> {
    this.engine.reset();
    this.exports.reset();
    this.auth.expireAll();
    await this.setScenario({ ...DEFAULT_SCENARIO, ...this.initial });
  }

  expireSessions(): void {
    this.auth.expireAll();
  }

  private async listen(port: number): Promise<void> {
    if (this.server) return;
    const app = buildApp(this, this.lookup);
    const server = this.certs
      ? https.createServer({ key: this.certs.keyPem, cert: this.certs.certPem }, app)
      : http.createServer(app);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }
}

export { DEFAULT_SCENARIO };
