import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { AppConfig } from '../../src/config/app-config';
import { envSchema } from '../../src/config/env.schema';
import { parseScannersFile } from '../../src/config/scanners-file';

/**
 * The deployment artefacts (Dockerfile, docker-compose.yml, deploy/k8s) checked against the code they
 * deploy: every variable they set is one the service reads, the values start the service in the intended
 * mode, and the wiring (volumes, probes, selectors, grace periods) is the one docs/DEPLOYMENT.md promises.
 * No Docker daemon or cluster is needed; Kubernetes objects are also validated against the API schemas
 * (kubernetes-models).
 */

const ROOT = resolve(__dirname, '../..');
const K8S_DIR = join(ROOT, 'deploy/k8s');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const SCHEMA_VARS = new Set(Object.keys(envSchema.shape));

/** Variable names a scanners file substitutes (`${VAR}` / `${VAR:-default}`). */
function scannersFileVars(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
}

/** Compose interpolation with an empty shell environment: `${V:-d}` and `${V-d}` give d, `$$` gives `$`. */
function interpolate(value: string, env: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (all, name, op, arg) => {
    if (all === '$$') return '$';
    const v = env[name as string];
    if (op === ':-') return v ? v : arg;
    if (op === '-') return v ?? arg;
    if (op === ':?' || op === '?') {
      if (v) return v;
      throw new Error(`compose refuses to start without ${name}: ${arg}`);
    }
    return v ?? '';
  });
}

function durationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  expect(parts.map((p) => p[0]).join('')).toBe(text);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

function urlOf(test: string[]): URL {
  const url = test.find((t) => /^https?:\/\//.test(t));
  expect(url).toBeDefined();
  return new URL(url!);
}

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile').replace(/\\\n/g, ' ');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages[stages.length - 1];

  it('builds in stages and runs the built server as a non-root numeric user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/RUN npm ci\b[^\n]*\n/);
    expect(runtime).toMatch(/COPY --from=\S+ \/app\/node_modules/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    const user = /^USER (\d+)(?::(\d+))?\s*$/m.exec(runtime);
    expect(user).not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
    expect(runtime).toMatch(/^CMD \["node", "dist\/main\.js"\]\s*$/m);
    expect(runtime).toMatch(/^EXPOSE 3000\s*$/m);
    expect(runtime).toMatch(/^VOLUME \["\/data\/tasks"\]/m);
  });

  it('sets only variables the service reads, and values it accepts in the image', () => {
    const env: Record<string, string> = {};
    for (const m of runtime.matchAll(/^ENV (.+)$/gm)) {
      for (const kv of m[1].trim().split(/\s+/)) {
        const [k, v] = kv.split('=');
        env[k] = v;
      }
    }
    const appVars = Object.keys(env).filter((k) => !['NODE_ENV', 'NPM_CONFIG_UPDATE_NOTIFIER'].includes(k));
    for (const k of appVars) expect(SCHEMA_VARS).toContain(k);
    expect(env).toMatchObject({ HOST: '0.0.0.0', DATA_DIR: '/data/tasks' });
    // The image alone refuses to start on 0.0.0.0 without API keys (SPEC §8): the operator must choose.
    expect(() => AppConfig.fromEnv(env)).toThrow(/API_KEYS/);
    const config = AppConfig.fromEnv(env, { API_KEYS: 'k' });
    expect(config.http.host).toBe('0.0.0.0');
    expect(existsSync(join(ROOT, env.SCANNER_CONFIG.replace(/^\/app\//, '')))).toBe(true);
  });

  it('has a health check that probes /health/live with node (no curl in the slim image)', () => {
    const hc = /^HEALTHCHECK .*CMD \[(.+)\]\s*$/m.exec(runtime);
    expect(hc).not.toBeNull();
    const cmd = JSON.parse(`[${hc![1]}]`) as string[];
    expect(cmd[0]).toBe('node');
    expect(existsSync(join(ROOT, cmd[1]))).toBe(true);
    expect(read(cmd[1])).toContain('/health/live');
    expect(runtime).toContain(`COPY ${cmd[1]} `);
  });

  it('sends every path the Dockerfile copies into the build context', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const toRegex = (p: string) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '@GLOBSTAR@')
          .replace(/\*/g, '[^/]*')
          .replace(/@GLOBSTAR@/g, '(?:.*/)?')}$`,
      );
    const ignored = (path: string) => {
      const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      let out = false;
      for (const p of patterns) {
        const negated = p.startsWith('!');
        if (prefixes.some((prefix) => toRegex(negated ? p.slice(1) : p).test(prefix))) out = !negated;
      }
      return out;
    };
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => {
      const words = m[1]
        .trim()
        .split(/\s+/)
        .filter((w) => !w.startsWith('--'));
      return words.slice(0, -1);
    });
    expect(sources).toEqual(expect.arrayContaining(['src', 'simulator', 'config', 'package-lock.json']));
    for (const src of sources) {
      expect({ src, exists: existsSync(join(ROOT, src)), ignored: ignored(src) }).toEqual({
        src,
        exists: true,
        ignored: false,
      });
    }
    for (const secretish of ['.env', '.git', 'node_modules', 'data']) expect(ignored(secretish)).toBe(true);
  });
});

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  container_name?: string;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  stop_grace_period?: string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
  const { services } = compose;
  const scannersText = read('config/scanners.yaml');
  const known = new Set([...SCHEMA_VARS, ...scannersFileVars(scannersText)]);
  const envOf = (name: string) =>
    Object.fromEntries(Object.entries(services[name].environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
  const mountTarget = (volume: string) => volume.split(':')[1];

  it('has redis, nessus-sim, api and worker, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'nessus-sim', 'redis', 'worker']);
    for (const [name, svc] of Object.entries(services)) {
      expect({ name, test: svc.healthcheck?.test?.[0] }).toEqual({ name, test: 'CMD' });
    }
    expect(services.redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('runs Redis with AOF every second and noeviction (what Bull needs)', () => {
    const cmd = services.redis.command!;
    const flag = (f: string) => cmd[cmd.indexOf(f) + 1];
    expect(cmd[0]).toBe('redis-server');
    expect(flag('--appendonly')).toBe('yes');
    expect(flag('--appendfsync')).toBe('everysec');
    expect(flag('--maxmemory-policy')).toBe('noeviction');
  });

  it.each(['api', 'worker'])('%s sets only known variables, with values the service accepts', (name) => {
    const env = envOf(name);
    for (const k of Object.keys(services[name].environment!)) expect(known).toContain(k);
    const config = AppConfig.fromEnv(env);
    expect(config.mode).toBe(name);
    expect(config.http.host).toBe('0.0.0.0');
    expect(config.security.apiKeys.length).toBeGreaterThan(0);
    expect(config.redis.url).toBe('redis://redis:6379');
    expect(durationSeconds(services[name].stop_grace_period!)).toBeGreaterThan(
      config.pipeline.shutdownTimeoutSeconds,
    );
    const hc = urlOf(services[name].healthcheck!.test);
    expect(Number(hc.port)).toBe(config.http.port);
    expect(hc.pathname).toMatch(/^\/health\/(live|ready)$/);
  });

  it('api and every worker share one named volume at DATA_DIR, and read the mounted scanners.yaml', () => {
    const sources = ['api', 'worker'].map((name) => {
      const env = envOf(name);
      const data = services[name].volumes!.find((v) => mountTarget(v) === env.DATA_DIR);
      expect(data).toBeDefined();
      const config = services[name].volumes!.find((v) => env.SCANNER_CONFIG.startsWith(`${mountTarget(v)}/`));
      expect(config).toBeDefined();
      const [hostDir, target, mode] = config!.split(':');
      expect(mode).toBe('ro');
      expect(existsSync(join(ROOT, hostDir, posix.relative(target, env.SCANNER_CONFIG)))).toBe(true);
      return data!.split(':')[0];
    });
    expect(sources[0]).toBe(sources[1]);
    expect(Object.keys(compose.volumes)).toContain(sources[0]);
  });

  it('points the default scanners.yaml at the simulator service, which listens beyond loopback', () => {
    const env = envOf('worker');
    const parsed = parseScannersFile(scannersText, { env, defaultMaxConcurrentScans: 2 });
    const urls = parsed.config.pools.flatMap((p) => p.scanners.map((s) => new URL(s.url)));
    const sim = services['nessus-sim'].command!;
    const arg = (f: string) => sim[sim.indexOf(f) + 1];
    expect(sim.slice(0, 2)).toEqual(['node', 'dist/simulator/main.js']);
    expect(arg('--host')).toBe('0.0.0.0');
    expect(urls.map((u) => [u.hostname, u.port])).toEqual([['nessus-sim', arg('--port')]]);
    // Plain HTTP to the simulator is lab-only, so nothing here turns certificate checks off.
    expect(parsed.config.pools.every((p) => p.scanners.every((s) => s.tlsVerify))).toBe(true);
    expect(urlOf(services['nessus-sim'].healthcheck!.test).port).toBe(arg('--port'));
  });

  it('starts api and workers after a healthy Redis; workers scale (no fixed name, no host port)', () => {
    for (const name of ['api', 'worker']) {
      const deps = services[name].depends_on!;
      expect(deps.redis).toEqual({ condition: 'service_healthy' });
      for (const dep of Object.keys(deps)) expect(services[dep].healthcheck).toBeDefined();
    }
    expect(services.worker.container_name).toBeUndefined();
    expect(services.worker.ports).toBeUndefined();
    expect(services.api.ports).toEqual([`127.0.0.1:${envOf('api').PORT}:${envOf('api').PORT}`]);
  });
});

interface KMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface KEnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface KProbe {
  httpGet?: { path: string; port: string | number };
}
interface KContainer {
  name: string;
  env?: KEnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: KProbe;
  livenessProbe?: KProbe;
  readinessProbe?: KProbe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface KVolume {
  name: string;
  persistentVolumeClaim?: { claimName: string };
  configMap?: { name: string };
  secret?: { secretName: string; optional?: boolean };
  emptyDir?: object;
}
interface KObject {
  apiVersion: string;
  kind: string;
  metadata: KMeta;
  stringData?: Record<string, string>;
  spec: {
    replicas?: number;
    accessModes?: string[];
    selector?: { matchLabels: Record<string, string> } & Record<string, string>;
    ports?: { targetPort: string | number }[];
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: KContainer[];
        volumes?: KVolume[];
      };
    };
  };
}
interface Kustomization {
  resources: string[];
  configMapGenerator: { name: string; files?: string[]; literals?: string[] }[];
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

describe('deploy/k8s', () => {
  const kustomization = parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const docs: { file: string; obj: KObject }[] = kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).map((d) => {
      expect(d.errors).toEqual([]);
      return { file, obj: d.toJS() as KObject };
    }),
  );
  const objects = docs.map((d) => d.obj);
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const deployments = ofKind('Deployment');
  const deployment = (mode: string) =>
    deployments.find((d) =>
      d.spec.template!.spec.containers[0].env!.some((e) => e.name === 'APP_MODE' && e.value === mode),
    )!;
  const secret = ofKind('Secret')[0];
  const generators = new Map(kustomization.configMapGenerator.map((g) => [g.name, g]));
  const literals = (name: string) =>
    Object.fromEntries(
      (generators.get(name)?.literals ?? []).map((l) => [l.split('=')[0], l.slice(l.indexOf('=') + 1)]),
    );
  const scannersGenerator = [...generators.values()].find((g) => g.files?.length)!;
  const scannersText = readFileSync(join(K8S_DIR, scannersGenerator.files![0]), 'utf8');
  const known = new Set([...SCHEMA_VARS, ...scannersFileVars(scannersText)]);
  const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);

  /** The environment a container starts with: its env list plus everything envFrom brings in. */
  function containerEnv(c: KContainer): Record<string, string> {
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) {
        expect(generators.has(from.configMapRef.name)).toBe(true);
        Object.assign(env, literals(from.configMapRef.name));
      }
      if (from.secretRef) {
        expect(from.secretRef.name).toBe(secret.metadata.name);
        Object.assign(env, secret.stringData);
      }
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        expect(ref.name).toBe(secret.metadata.name);
        expect(Object.keys(secret.stringData!)).toContain(ref.key);
        env[e.name] = secret.stringData![ref.key];
      } else {
        expect(e.valueFrom).toBeUndefined();
        env[e.name] = e.value!;
      }
    }
    return env;
  }

  it('lists every manifest and every generator file in kustomization.yaml, and nothing missing', () => {
    const listed = [
      ...kustomization.resources,
      ...kustomization.configMapGenerator.flatMap((g) => g.files ?? []),
    ];
    const present = readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual([...present].sort());
  });

  it('has apiVersion, kind and a name on every object, no fixed namespace, and passes the API schemas', () => {
    expect(objects.length).toBeGreaterThanOrEqual(7);
    for (const { file, obj } of docs) {
      expect({
        file,
        apiVersion: typeof obj.apiVersion,
        kind: typeof obj.kind,
        name: typeof obj.metadata?.name,
      }).toEqual({
        file,
        apiVersion: 'string',
        kind: 'string',
        name: 'string',
      });
      expect(obj.metadata.namespace).toBeUndefined();
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect({ file, kind: obj.kind, validated: Boolean(Model) }).toEqual({
        file,
        kind: obj.kind,
        validated: true,
      });
      expect(() => new Model(obj as never).validate()).not.toThrow();
    }
  });

  it.each(['api', 'worker'])(
    '%s Deployment: probes, shutdown bound, resources, non-root, known settings',
    (mode) => {
      const d = deployment(mode);
      expect(d).toBeDefined();
      const pod = d.spec.template!.spec;
      expect(matches(d.spec.selector!.matchLabels, d.spec.template!.metadata.labels)).toBe(true);
      expect(pod.containers).toHaveLength(1);
      const c = pod.containers[0];
      const env = containerEnv(c);
      for (const name of Object.keys(env)) expect(known).toContain(name);
      const config = AppConfig.fromEnv(env);
      expect(config.mode).toBe(mode);

      const port = c.ports!.find((p) => p.containerPort === config.http.port)!;
      expect(port).toBeDefined();
      const probe = (p: KProbe | undefined) => {
        expect([port.name, port.containerPort]).toContain(p?.httpGet?.port);
        return p!.httpGet!.path;
      };
      expect(probe(c.startupProbe)).toBe('/health/live');
      expect(probe(c.livenessProbe)).toBe('/health/live');
      expect(probe(c.readinessProbe)).toBe('/health/ready');

      const preStop = c.lifecycle?.preStop?.exec?.command ?? [];
      const preStopSeconds = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
        config.pipeline.shutdownTimeoutSeconds + preStopSeconds,
      );
      expect(c.resources!.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources!.limits!.memory).toEqual(expect.any(String));

      expect(pod.securityContext!.runAsNonRoot).toBe(true);
      expect(pod.securityContext!.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      const volume = (mountPath: string) => {
        const m = c.volumeMounts!.find((vm) => vm.mountPath === mountPath);
        expect({ mountPath, mounted: Boolean(m) }).toEqual({ mountPath, mounted: true });
        return { mount: m!, volume: pod.volumes!.find((v) => v.name === m!.name)! };
      };
      // With a read-only root, the task directory and /tmp are the writable places.
      const data = volume(config.storage.dataDir);
      expect(data.mount.readOnly).toBeFalsy();
      const pvc = ofKind('PersistentVolumeClaim').find(
        (p) => p.metadata.name === data.volume.persistentVolumeClaim?.claimName,
      );
      expect(pvc?.spec.accessModes).toEqual(['ReadWriteMany']);
      expect(volume('/tmp').volume.emptyDir).toBeDefined();

      const scanners = volume(dirname(config.scanners.configPath));
      expect(scanners.volume.configMap?.name).toBe(scannersGenerator.name);
      expect(scannersGenerator.files).toContain(
        relative(scanners.mount.mountPath, config.scanners.configPath),
      );
      for (const v of pod.volumes!.filter((x) => x.secret)) expect(v.secret!.optional).toBe(true);

      const parsed = parseScannersFile(scannersText, { env, defaultMaxConcurrentScans: 2 });
      expect(
        parsed.config.pools.every((p) => p.scanners.every((s) => s.tlsVerify && s.url.startsWith('https:'))),
      ).toBe(true);
    },
  );

  it('runs at least two workers and puts only api pods behind the Service', () => {
    expect(deployment('worker').spec.replicas).toBeGreaterThanOrEqual(2);
    const services = ofKind('Service');
    expect(services).toHaveLength(1);
    const selector = services[0].spec.selector as Record<string, string>;
    const api = deployment('api');
    expect(matches(selector, api.spec.template!.metadata.labels)).toBe(true);
    expect(matches(selector, deployment('worker').spec.template!.metadata.labels)).toBe(false);
    const target = services[0].spec.ports![0].targetPort;
    expect(
      api.spec.template!.spec.containers[0].ports!.some(
        (p) => p.name === target || p.containerPort === target,
      ),
    ).toBe(true);
  });

  it('covers each Deployment with exactly one PodDisruptionBudget', () => {
    const pdbs = ofKind('PodDisruptionBudget');
    for (const d of deployments) {
      const covering = pdbs.filter((p) =>
        matches(p.spec.selector!.matchLabels, d.spec.template!.metadata.labels),
      );
      expect({ deployment: d.metadata.name, pdbs: covering.length }).toEqual({
        deployment: d.metadata.name,
        pdbs: 1,
      });
    }
    for (const p of pdbs) {
      expect(
        deployments.some((d) => matches(p.spec.selector!.matchLabels, d.spec.template!.metadata.labels)),
      ).toBe(true);
    }
  });

  it('keeps credentials in the Secret and only known variables in Secret and settings', () => {
    for (const k of Object.keys(secret.stringData!)) expect(known).toContain(k);
    expect(Object.keys(secret.stringData!)).toEqual(
      expect.arrayContaining(['API_KEYS', 'REDIS_URL', 'NESSUS_USERNAME', 'NESSUS_PASSWORD']),
    );
    for (const g of generators.values()) {
      for (const k of Object.keys(literals(g.name))) {
        expect(known).toContain(k);
        expect(['API_KEYS', 'REDIS_URL', 'NESSUS_PASSWORD', 'NESSUS_USERNAME']).not.toContain(k);
      }
    }
    for (const d of deployments) {
      for (const e of d.spec.template!.spec.containers[0].env ?? []) {
        if (['API_KEYS', 'REDIS_URL', 'NESSUS_PASSWORD', 'NESSUS_USERNAME'].includes(e.name)) {
          expect(e.valueFrom?.secretKeyRef).toBeDefined();
        }
      }
    }
  });
});
