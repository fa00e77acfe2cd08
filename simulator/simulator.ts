import { writeFile } from 'node:fs/promises';
import { generateCertificates, type SimulatorCertificates } from './certificates';
import { DEFAULT_SCENARIO, parseScenarioPatch, type Scenario } from './scenario';
import { ScannerInstance, type ScannerControl } from './scanner-instance';

export type { Scenario } from './scenario';
export type { ScannerControl } from './scanner-instance';
export type { ScanStats } from './scan-engine';

export interface SimulatorOptions {
  /** First port; scanner i listens on port + i. 0 = an ephemeral port for each scanner. */
  port?: number;
  /** Number of simulated scanners (default 1). */
  scanners?: number;
  host?: string;
  /** Serve HTTPS with a certificate signed by a CA generated at start. */
  https?: boolean;
  /** Write the CA certificate PEM there (HTTPS only). */
  certOut?: string;
  /** Scenario for every scanner. */
  scenario?: Partial<Scenario>;
  /** Per-scanner overrides, by index. */
  perScanner?: Array<Partial<Scenario> | undefined>;
}

export interface SimulatorHandle {
  scanners: Array<{ url: string; instanceName: string; port: number }>;
  /** PEM of the CA that signed the server certificate, or null over HTTP. */
  caPem: string | null;
  control(index: number): ScannerControl;
  stop(): Promise<void>;
}

/** Starts one or more simulated Nessus scanners in this process. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const count = Math.max(1, options.scanners ?? 1);
  const host = options.host ?? '127.0.0.1';
  const certs: SimulatorCertificates | null = options.https ? await generateCertificates() : null;
  if (certs && options.certOut) await writeFile(options.certOut, certs.caPem);
  const base = { ...DEFAULT_SCENARIO, ...parseScenarioPatch(options.scenario ?? {}) };
  const instances: ScannerInstance[] = [];
  const lookup = { scanner: (i: number) => instances[i], caPem: certs?.caPem ?? null };
  for (let i = 0; i < count; i++) {
    const scenario = { ...base, ...parseScenarioPatch(options.perScanner?.[i] ?? {}) };
    instances.push(new ScannerInstance(i, `scanner${i + 1}`, scenario, host, certs, lookup));
  }
  try {
    for (const [i, s] of instances.entries()) await s.start(options.port ? options.port + i : 0);
  } catch (err) {
    await Promise.all(instances.map((s) => s.stop()));
    throw err;
  }
  return {
    scanners: instances.map((s) => ({ url: s.url, instanceName: s.instanceName, port: s.port })),
    caPem: certs?.caPem ?? null,
    control: (i) => {
      const s = instances[i];
      if (!s) throw new Error(`no simulated scanner ${i}`);
      return s;
    },
    stop: async () => {
      await Promise.all(instances.map((s) => s.stop()));
    },
  };
}
