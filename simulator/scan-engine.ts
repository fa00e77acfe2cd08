import { randomBytes } from 'node:crypto';
import type { Scenario } from './scenario';
import { expandTargets } from './targets';
import { hostFindings, type SyntheticReportOptions } from './report-generator';

export type SimScanStatus =
  | 'empty'
  | 'pending'
  | 'running'
  | 'pausing'
  | 'paused'
  | 'resuming'
  | 'stopping'
  | 'canceled'
  | 'completed'
  | 'aborted';

/** States that hold a `global.max_scans` slot. */
const ACTIVE: ReadonlySet<SimScanStatus> = new Set(['running', 'pausing', 'paused', 'resuming', 'stopping']);
/** States a launch, stop or delete treats as "scan in progress". */
const IN_PROGRESS: ReadonlySet<SimScanStatus> = new Set([...ACTIVE, 'pending']);

export interface HistoryEntry {
  history_id: number;
  uuid: string;
  owner_id: number;
  status: SimScanStatus;
  creation_date: number;
  last_modification_date: number;
  type: 'local';
  scheduler: 0;
  alt_targets_used: boolean;
  is_archived: boolean;
}

export interface SimScan {
  id: number;
  name: string;
  description: string | null;
  templateUuid: string;
  scheduleUuid: string;
  textTargets: string;
  folderId: number;
  settings: Record<string, unknown>;
  /** Whether SSH credentials were given (the secrets themselves are not kept). */
  credentialed: boolean;
  status: SimScanStatus;
  runUuid: string | null;
  launches: number;
  creationDate: number;
  lastModified: number;
  history: HistoryEntry[];
  queuedAt: number;
  startedAt: number;
  runningMs: number;
  pausedAt: number;
  stopRequestedAt: number;
  scanStart: number | null;
  scanEnd: number | null;
}

export class ScanError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ScanStats {
  created: number;
  launched: number;
  stopped: number;
  deleted: number;
  running: number;
  max_running: number;
  pending: number;
  /** API calls answered 503 by `errorRate`. */
  injected_errors: number;
  created_by_name: Record<string, number>;
  scans_by_name: Record<string, number>;
  scans: Array<{ id: number; name: string; status: SimScanStatus; launches: number }>;
}

const epoch = (ms: number) => Math.floor(ms / 1000);
export const nessusUuid = () => {
  const h = randomBytes(26).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 48)}`;
};

/**
 * The scan state machine of one simulated scanner (NESSUS_API.md §6.2), driven by wall-clock time:
 * `tick()` applies every transition that is due, so any request sees an up-to-date state.
 */
export class ScanEngine {
  private scans = new Map<number, SimScan>();
  private nextId = 5;
  private nextHistoryId = 100;
  private counters = { created: 0, launched: 0, stopped: 0, deleted: 0, maxRunning: 0, injectedErrors: 0 };
  private createdByName = new Map<string, number>();

  constructor(private readonly scenario: () => Scenario) {}

  reset(): void {
    this.scans.clear();
    this.counters = { created: 0, launched: 0, stopped: 0, deleted: 0, maxRunning: 0, injectedErrors: 0 };
    this.createdByName.clear();
  }

  create(input: {
    name: string;
    description: string | null;
    templateUuid: string;
    textTargets: string;
    folderId: number;
    settings: Record<string, unknown>;
    credentialed: boolean;
  }): SimScan {
    const now = Date.now();
    const scan: SimScan = {
      ...input,
      id: this.nextId++,
      scheduleUuid: `template-${nessusUuid()}`,
      status: 'empty',
      runUuid: null,
      launches: 0,
      creationDate: epoch(now),
      lastModified: epoch(now),
      history: [],
      queuedAt: 0,
      startedAt: 0,
      runningMs: 0,
      pausedAt: 0,
      stopRequestedAt: 0,
      scanStart: null,
      scanEnd: null,
    };
    this.scans.set(scan.id, scan);
    this.counters.created++;
    this.createdByName.set(scan.name, (this.createdByName.get(scan.name) ?? 0) + 1);
    return scan;
  }

  get(id: number): SimScan {
    this.tick();
    const scan = this.scans.get(id);
    if (!scan) throw new ScanError(404, 'The requested scan does not exist.');
    return scan;
  }

  list(): SimScan[] {
    this.tick();
    return [...this.scans.values()];
  }

  launch(id: number): string {
    const scan = this.get(id);
    const sc = this.scenario();
    if (IN_PROGRESS.has(scan.status)) throw new ScanError(sc.launchConflictStatus, 'Failed to launch scan.');
    if (sc.failLaunch) throw new ScanError(500, 'Failed to launch scan.');
    const now = Date.now();
    scan.runUuid = nessusUuid();
    scan.status = 'pending';
    scan.launches++;
    scan.queuedAt = now;
    scan.runningMs = 0;
    scan.scanStart = epoch(now);
    scan.scanEnd = null;
    scan.lastModified = epoch(now);
    scan.history.push({
      history_id: this.nextHistoryId++,
      uuid: scan.runUuid,
      owner_id: 1,
      status: 'pending',
      creation_date: epoch(now),
      last_modification_date: epoch(now),
      type: 'local',
      scheduler: 0,
      alt_targets_used: false,
      is_archived: false,
    });
    this.counters.launched++;
    this.tick();
    return scan.runUuid;
  }

  stop(id: number): void {
    const scan = this.get(id);
    if (!IN_PROGRESS.has(scan.status) || scan.status === 'stopping') {
      throw new ScanError(409, 'Scan is not active.');
    }
    this.accrue(scan, Date.now());
    this.setStatus(scan, 'stopping');
    scan.stopRequestedAt = Date.now();
    this.counters.stopped++;
    this.tick();
  }

  kill(id: number): void {
    const scan = this.get(id);
    if (IN_PROGRESS.has(scan.status)) {
      this.counters.stopped++;
      this.finish(scan, 'canceled');
    }
  }

  pause(id: number): void {
    const scan = this.get(id);
    if (scan.status !== 'running') throw new ScanError(409, 'Scan is not active.');
    this.accrue(scan, Date.now());
    this.setStatus(scan, 'paused');
  }

  resume(id: number): void {
    const scan = this.get(id);
    if (scan.status !== 'paused') throw new ScanError(409, 'Scan is not paused.');
    scan.startedAt = Date.now();
    this.setStatus(scan, 'running');
  }

  delete(id: number): void {
    const scan = this.get(id);
    if (IN_PROGRESS.has(scan.status))
      throw new ScanError(500, 'Failed to delete scan: the scan may be running.');
    this.scans.delete(id);
    this.counters.deleted++;
  }

  /** Applies every transition due now: queue admission, completion, abort and stop. */
  tick(now = Date.now()): void {
    const sc = this.scenario();
    for (const scan of this.scans.values()) {
      if (scan.status === 'running') {
        const elapsed = scan.runningMs + (now - scan.startedAt);
        if (sc.abortAfterMs > 0 && elapsed >= sc.abortAfterMs && sc.abortAfterMs < sc.scanDurationMs) {
          this.finish(scan, 'aborted');
        } else if (elapsed >= sc.scanDurationMs) {
          this.finish(scan, 'completed');
        }
      } else if (scan.status === 'stopping' && now - scan.stopRequestedAt >= sc.stopDelayMs) {
        this.finish(scan, 'canceled');
      }
    }
    const pending = [...this.scans.values()]
      .filter((s) => s.status === 'pending')
      .sort((a, b) => a.queuedAt - b.queuedAt);
    for (const scan of pending) {
      if (sc.maxScans > 0 && this.activeCount() >= sc.maxScans) break;
      scan.startedAt = now;
      this.setStatus(scan, 'running');
      this.counters.maxRunning = Math.max(this.counters.maxRunning, this.activeCount());
      // a zero-length scan finishes within the same tick
      if (sc.scanDurationMs === 0) this.finish(scan, 'completed');
    }
  }

  /** 0-1 progress of a running scan. */
  elapsedFraction(scan: SimScan, now = Date.now()): number {
    const sc = this.scenario();
    if (scan.status === 'completed') return 1;
    if (scan.status === 'empty' || scan.status === 'pending') return 0;
    const elapsed = scan.runningMs + (scan.status === 'running' ? now - scan.startedAt : 0);
    return sc.scanDurationMs <= 0 ? 1 : Math.min(1, elapsed / sc.scanDurationMs);
  }

  reportOptions(scan: SimScan): SyntheticReportOptions {
    const sc = this.scenario();
    const targets = expandTargets(scan.textTargets, sc.maxHostsPerScan);
    return {
      hosts: targets.length,
      findingsPerHost: sc.findingsPerHost,
      seed: scan.id,
      targets,
      credentialed: scan.credentialed ? sc.credentialedResult : 'none',
      pluginOutputBytes: sc.pluginOutputBytes,
      reportName: scan.name,
    };
  }

  /** Hosts as GET /scans/{id} shows them: each host appears once the engine starts on it. */
  hostsView(scan: SimScan, now = Date.now()) {
    const opts = this.reportOptions(scan);
    const f = this.elapsedFraction(scan, now);
    if (scan.status === 'empty' || scan.status === 'pending') return [];
    const hosts = [];
    const n = opts.hosts;
    for (let i = 0; i < n; i++) {
      // host i starts at i/n of the first half of the run and takes half the run
      const start = (i / n) * 0.5;
      if (scan.status !== 'completed' && f < start) break;
      const p = scan.status === 'completed' ? 1 : Math.max(0, Math.min(1, (f - start) / 0.5));
      const current = Math.round(p * 100);
      const findings = hostFindings(opts, i).slice(0, Math.ceil(p * (opts.findingsPerHost + 3)));
      const sev = [0, 0, 0, 0, 0];
      for (const x of findings) sev[x.severity]++;
      hosts.push({
        asset_id: i + 2,
        host_id: i + 2,
        uuid: null,
        hostname: opts.targets![i],
        progress: `${current}-100/${current}-100`,
        scanprogresscurrent: current,
        scanprogresstotal: 100,
        numchecksconsidered: current,
        totalchecksconsidered: 100,
        severitycount: { item: sev.map((count, severitylevel) => ({ count, severitylevel })) },
        severity: findings.length,
        score: sev[0] + 10 * sev[1] + 100 * sev[2] + 1000 * sev[3] + 10000 * sev[4],
        info: sev[0],
        low: sev[1],
        medium: sev[2],
        high: sev[3],
        critical: sev[4],
        host_index: i,
        findings,
      });
    }
    return hosts;
  }

  /** Whether to answer this API call 503 (the scenario's `errorRate`), counted when so. */
  injectError(): boolean {
    if (!(Math.random() < this.scenario().errorRate)) return false;
    this.counters.injectedErrors++;
    return true;
  }

  stats(): ScanStats {
    this.tick();
    const scans = [...this.scans.values()];
    const byName: Record<string, number> = {};
    for (const s of scans) byName[s.name] = (byName[s.name] ?? 0) + 1;
    return {
      created: this.counters.created,
      launched: this.counters.launched,
      stopped: this.counters.stopped,
      deleted: this.counters.deleted,
      running: this.activeCount(),
      max_running: this.counters.maxRunning,
      pending: scans.filter((s) => s.status === 'pending').length,
      injected_errors: this.counters.injectedErrors,
      created_by_name: Object.fromEntries(this.createdByName),
      scans_by_name: byName,
      scans: scans.map((s) => ({ id: s.id, name: s.name, status: s.status, launches: s.launches })),
    };
  }

  private activeCount(): number {
    let n = 0;
    for (const s of this.scans.values()) if (ACTIVE.has(s.status)) n++;
    return n;
  }

  private accrue(scan: SimScan, now: number): void {
    if (scan.status === 'running') {
      scan.runningMs += now - scan.startedAt;
      scan.startedAt = now;
    }
  }

  private finish(scan: SimScan, status: 'completed' | 'canceled' | 'aborted'): void {
    this.accrue(scan, Date.now());
    this.setStatus(scan, status);
    scan.scanEnd = epoch(Date.now());
  }

  private setStatus(scan: SimScan, status: SimScanStatus): void {
    scan.status = status;
    scan.lastModified = epoch(Date.now());
    const last = scan.history[scan.history.length - 1];
    if (last) {
      last.status = status;
      last.last_modification_date = scan.lastModified;
    }
  }
}
