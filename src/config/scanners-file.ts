import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, dirname, resolve } from 'node:path';
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Scalar, visit } from 'yaml';
import { z } from 'zod';

/** One scanner entry of scanners.yaml after substitution, validation and defaults. Holds credentials. */
export interface ScannerEntry {
  pool: string;
  instanceId: string;
  /** Display name; defaults to the instance id. */
  name: string;
  /** http(s) base URL of the Nessus API, as configured (may hold userinfo: never display it raw). */
  url: string;
  username?: string;
  password?: string;
  accessKey?: string;
  secretKey?: string;
  enabled: boolean;
  maxConcurrentScans: number;
  tlsVerify: boolean;
  /** Absolute path of a PEM CA bundle (a relative ca_file is resolved against the scanners file). */
  caFile?: string;
  /** 'auto' (fetch the web UI token), 'off', or a fixed X-API-Token UUID. */
  apiToken: string;
}

export interface ScannerPool {
  name: string;
  scanners: ScannerEntry[];
}

/** scanners.yaml parsed: pools in file order (the first is the default pool). */
export interface ScannersConfig {
  pools: ScannerPool[];
}

export interface ParsedScannersFile {
  config: ScannersConfig;
  /** Things an operator should know that do not stop the load (unknown keys, tls_verify false). */
  warnings: string[];
}

export interface ScannersFileOptions {
  /** Variables for ${VAR} substitution (AppConfig.substitutionEnv). */
  env: Readonly<Record<string, string | undefined>>;
  /** Capacity of entries that omit max_concurrent_scans (MAX_CONCURRENT_SCANS). */
  defaultMaxConcurrentScans: number;
  /** Shown in messages and used to resolve a relative ca_file. */
  sourceName?: string;
}

/** scanners.yaml is unusable; `problems` lists every problem found, each naming its place. */
export class ScannersFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid scanner configuration ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ScannersFileError';
  }
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A problem in one ${…} expression; `variable` names the variable when one is at fault. */
export class SubstitutionError extends Error {
  constructor(
    message: string,
    readonly variable?: string,
  ) {
    super(message);
    this.name = 'SubstitutionError';
  }
}

/**
 * Expands `${VAR}` and `${VAR:-default}` (default when VAR is unset or empty) in one string; `$${…}`
 * yields a literal `${…}`. An unset VAR without a default, a bad name and an unterminated `${` throw.
 */
export function substituteVariables(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const dollar = value.indexOf('$', i);
    if (dollar < 0) {
      out += value.slice(i);
      break;
    }
    out += value.slice(i, dollar);
    if (value.startsWith('$${', dollar)) {
      out += '${';
      i = dollar + 3;
      continue;
    }
    if (!value.startsWith('${', dollar)) {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = value.indexOf('}', dollar + 2);
    if (close < 0)
      throw new SubstitutionError('unterminated "${": add the closing "}" (or write "$${" for a literal)');
    const inner = value.slice(dollar + 2, close);
    const sep = inner.indexOf(':-');
    const name = sep < 0 ? inner : inner.slice(0, sep);
    if (!VAR_NAME.test(name)) {
      throw new SubstitutionError(`"\${${name}…}" is not a valid variable name (use [A-Za-z_][A-Za-z0-9_]*)`);
    }
    const current = env[name];
    if (sep >= 0) {
      out += current === undefined || current === '' ? inner.slice(sep + 2) : current;
    } else if (current === undefined) {
      throw new SubstitutionError(
        `variable ${name} is not set and has no default (write \${${name}:-default})`,
        name,
      );
    } else {
      out += current;
    }
    i = close + 1;
  }
  return out;
}

const STRING_FIELDS = new Set([
  'instance_id',
  'name',
  'url',
  'username',
  'password',
  'access_key',
  'secret_key',
]);
const STRING_FIELDS_ALL = new Set([...STRING_FIELDS, 'ca_file', 'api_token']);
const KNOWN_FIELDS = new Set([...STRING_FIELDS_ALL, 'enabled', 'max_concurrent_scans', 'tls_verify']);
/** What a pool name and an instance_id may be; the REST and MCP arguments naming them are held to the same. */
export const POOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** What a value refused by those patterns is told. */
export const POOL_NAME_RULE = 'must be 1-64 of [A-Za-z0-9_-]';
export const INSTANCE_ID_RULE = 'must be 1-64 of [A-Za-z0-9_.-]';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** '' (e.g. from `${VAR:-}`) and YAML null mean "not given" for every optional field. */
const given = (v: unknown) => (v === '' || v === null ? undefined : v);

const optionalText = z.preprocess(
  given,
  z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be blank' }).optional(),
);

const flag = (def: boolean) =>
  z.preprocess(
    (v) => {
      const g = given(v);
      if (typeof g !== 'string') return g;
      const s = g.trim().toLowerCase();
      if (['true', 'yes', '1', 'on'].includes(s)) return true;
      if (['false', 'no', '0', 'off'].includes(s)) return false;
      return g;
    },
    z.boolean({ error: 'must be true or false' }).default(def),
  );

const count = (def: number) =>
  z.preprocess(
    (v) => {
      const g = given(v);
      return typeof g === 'string' && /^\s*\d+\s*$/.test(g) ? Number(g) : g;
    },
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be at least 1' })
      .max(10000, { error: 'must be at most 10000' })
      .default(def),
  );

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

function entrySchema(defaultMax: number) {
  return z
    .object({
      instance_id: z
        .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
        .regex(INSTANCE_ID_PATTERN, { error: INSTANCE_ID_RULE }),
      name: optionalText,
      url: z
        .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be an http(s) URL') })
        .trim()
        .refine(isHttpUrl, { error: 'must be an http(s) URL' }),
      username: optionalText,
      password: optionalText,
      access_key: optionalText,
      secret_key: optionalText,
      enabled: flag(true),
      max_concurrent_scans: count(defaultMax),
      tls_verify: flag(true),
      ca_file: optionalText,
      api_token: z.preprocess(
        (v) => (typeof given(v) === 'string' ? (v as string).trim() : given(v)),
        z
          .string({ error: 'must be auto, off or a UUID' })
          .refine((v) => v === 'auto' || v === 'off' || UUID.test(v), {
            error: 'must be auto, off or a UUID',
          })
          .default('auto'),
      ),
    })
    .superRefine((e, ctx) => {
      const userPass = e.username !== undefined || e.password !== undefined;
      const keys = e.access_key !== undefined || e.secret_key !== undefined;
      if (!userPass && !keys) {
        ctx.addIssue({
          code: 'custom',
          path: ['username'],
          message: 'give username and password, or access_key and secret_key',
        });
      }
      if (userPass && (e.username === undefined || e.password === undefined)) {
        const missing = e.username === undefined ? 'username' : 'password';
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message: `is required with ${missing === 'username' ? 'password' : 'username'}`,
        });
      }
      if (keys && (e.access_key === undefined || e.secret_key === undefined)) {
        const missing = e.access_key === undefined ? 'access_key' : 'secret_key';
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message: `is required with ${missing === 'access_key' ? 'secret_key' : 'access_key'}`,
        });
      }
    });
}

interface Located {
  doc: Document;
  lines: LineCounter;
}

function lineOf(loc: Located, path: (string | number)[]): number | undefined {
  for (let p = path; p.length > 0; p = p.slice(0, -1)) {
    const node = loc.doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return loc.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

const at = (line: number | undefined) => (line === undefined ? '' : ` (line ${line})`);

/** Substitutes variables inside scalar values (so a value can never change the YAML structure). */
function substituteDocument(
  loc: Located,
  text: string,
  env: ScannersFileOptions['env'],
  problems: string[],
): void {
  visit(loc.doc, {
    Scalar(_key, node: Scalar, path) {
      const parent = path[path.length - 1];
      const field =
        isPair(parent) && isScalar(parent.key) && parent.value === node ? parent.key.value : undefined;
      // A credential such as `password: 0123` must stay the text written, not the number 123.
      if (typeof field === 'string' && STRING_FIELDS_ALL.has(field) && typeof node.value !== 'string') {
        if (node.value !== null && node.source !== undefined) node.value = node.source;
      }
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      try {
        node.value = substituteVariables(node.value, env);
      } catch (err) {
        const e = err as SubstitutionError;
        const start = node.range?.[0] ?? 0;
        const src = text.slice(start, node.range?.[1] ?? start);
        const hit = e.variable ? src.indexOf(`\${${e.variable}`) : src.indexOf('${');
        problems.push(`line ${loc.lines.linePos(start + Math.max(0, hit)).line}: ${e.message}`);
      }
    },
  });
}

/**
 * Parses scanners.yaml text: YAML, then `${VAR}` substitution inside values, then the schema. Pure (no
 * file access: see loadScannersFile). Throws ScannersFileError listing every problem found.
 */
export function parseScannersFile(text: string, opts: ScannersFileOptions): ParsedScannersFile {
  const source = opts.sourceName ?? 'scanners.yaml';
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScannersFileError(
      source,
      doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const loc: Located = { doc, lines };
  const problems: string[] = [];
  const warnings: string[] = [];
  substituteDocument(loc, text, opts.env, problems);
  if (problems.length > 0) throw new ScannersFileError(source, problems);

  if (doc.contents === null || (isMap(doc.contents) && doc.contents.items.length === 0)) {
    throw new ScannersFileError(source, ['no pools: define at least one pool (e.g. "nessus:")']);
  }
  if (!isMap(doc.contents)) {
    throw new ScannersFileError(source, [
      'the file must map pool names to lists of scanners (e.g. "nessus:")',
    ]);
  }
  const schema = entrySchema(opts.defaultMaxConcurrentScans);
  const pools: ScannerPool[] = [];
  const seen = new Map<string, string>();
  for (const pair of doc.contents.items) {
    const poolName = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const poolLine = lineOf(loc, [poolName]);
    if (!POOL_NAME_PATTERN.test(poolName)) {
      problems.push(`pool "${poolName}": name ${POOL_NAME_RULE}${at(poolLine)}`);
      continue;
    }
    if (!isSeq(pair.value) || pair.value.items.length === 0) {
      problems.push(`pool "${poolName}": must be a non-empty list of scanner entries${at(poolLine)}`);
      continue;
    }
    const scanners: ScannerEntry[] = [];
    pair.value.items.forEach((item, index) => {
      const raw = isMap(item) ? (item.toJSON() as Record<string, unknown>) : undefined;
      const entryLine = lineOf(loc, [poolName, index]);
      const idGuess = typeof raw?.instance_id === 'string' && raw.instance_id ? raw.instance_id : undefined;
      const where = idGuess
        ? `pool "${poolName}", instance "${idGuess}"`
        : `pool "${poolName}", entry ${index + 1}`;
      if (!raw) {
        problems.push(`${where}: must be a mapping of scanner fields${at(entryLine)}`);
        return;
      }
      for (const key of Object.keys(raw)) {
        if (!KNOWN_FIELDS.has(key))
          warnings.push(`${where}: unknown field "${key}" ignored${at(lineOf(loc, [poolName, index, key]))}`);
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const field = String(issue.path[0] ?? 'entry');
          problems.push(`${where}: ${field}: ${issue.message}${at(lineOf(loc, [poolName, index, field]))}`);
        }
        return;
      }
      const e = parsed.data;
      const other = seen.get(e.instance_id);
      if (other !== undefined) {
        problems.push(
          `${where}: instance_id: duplicate; already used in pool "${other}" (ids are unique across pools)${at(entryLine)}`,
        );
        return;
      }
      seen.set(e.instance_id, poolName);
      if (!e.tls_verify) {
        warnings.push(
          `${where}: tls_verify is false; the scanner's certificate is not checked (prefer ca_file)`,
        );
      }
      scanners.push({
        pool: poolName,
        instanceId: e.instance_id,
        name: e.name ?? e.instance_id,
        url: e.url.replace(/\/+$/, ''),
        username: e.username,
        password: e.password,
        accessKey: e.access_key,
        secretKey: e.secret_key,
        enabled: e.enabled,
        maxConcurrentScans: e.max_concurrent_scans,
        tlsVerify: e.tls_verify,
        caFile: e.ca_file,
        apiToken: e.api_token,
      });
    });
    pools.push({ name: poolName, scanners });
  }
  if (problems.length > 0) throw new ScannersFileError(source, problems);
  return { config: { pools }, warnings };
}

function resolveCaFiles(parsed: ParsedScannersFile, path: string, readable: (p: string) => boolean): void {
  const problems: string[] = [];
  for (const pool of parsed.config.pools) {
    for (const s of pool.scanners) {
      if (s.caFile === undefined) continue;
      s.caFile = isAbsolute(s.caFile) ? s.caFile : resolve(dirname(path), s.caFile);
      if (!readable(s.caFile)) {
        problems.push(`pool "${pool.name}", instance "${s.instanceId}": ca_file: cannot read ${s.caFile}`);
      }
    }
  }
  if (problems.length > 0) throw new ScannersFileError(path, problems);
}

function canRead(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Reads and parses the scanners file (sync: used once at start-up, before the service runs). */
export function loadScannersFileSync(
  path: string,
  opts: Omit<ScannersFileOptions, 'sourceName'>,
): ParsedScannersFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScannersFileError(path, [
      `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    ]);
  }
  const parsed = parseScannersFile(text, { ...opts, sourceName: path });
  resolveCaFiles(parsed, path, canRead);
  return parsed;
}

/** Reads and parses the scanners file without blocking (used by reloads). */
export async function loadScannersFile(
  path: string,
  opts: Omit<ScannersFileOptions, 'sourceName'>,
): Promise<ParsedScannersFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScannersFileError(path, [
      `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    ]);
  }
  const parsed = parseScannersFile(text, { ...opts, sourceName: path });
  resolveCaFiles(parsed, path, canRead);
  return parsed;
}
