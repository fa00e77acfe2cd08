import { once } from 'node:events';
import { isIP } from 'node:net';
import { PLUGIN_CATALOGUE, RISK_FACTOR, type CataloguePlugin } from './plugin-catalogue';

/**
 * Synthetic NessusClientData_v2 report with counts known in advance.
 * Each host carries `findingsPerHost` findings drawn from the plugin catalogue, plus, when
 * `credentialed` is not 'none', the credential plugins (all severity 0): 19506 on every host and
 * 141118 + 110095 ('success'), 141118 + 110385 ('partial') or 104410 ('failed').
 */
export interface SyntheticReportOptions {
  hosts: number;
  findingsPerHost: number;
  seed?: number;
  targets?: string[];
  credentialed?: 'success' | 'partial' | 'failed' | 'none';
  pluginOutputBytes?: number;
  reportName?: string;
}

export interface SyntheticReportCounts {
  hosts: number;
  total: number;
  severity: { critical: number; high: number; medium: number; low: number; info: number };
}

const CREDENTIAL_EXTRAS: Record<NonNullable<SyntheticReportOptions['credentialed']>, number[]> = {
  none: [],
  success: [19506, 141118, 110095],
  partial: [19506, 141118, 110385],
  failed: [19506, 104410],
};

const BASE_EPOCH = 1735725600; // 2025-01-01T10:00:00Z: fixed so a seed always yields the same bytes
const BASIC_TEMPLATE_UUID = '731a8e52-3ea6-a291-ec0a-d2ff0619c19d7bd788d6be818b65';
const FLUSH_AT = 64 * 1024;

/** Severity counts of the catalogue, indexed by severity 0-4. */
const CATALOGUE_SEVERITY = [0, 0, 0, 0, 0];
for (const p of PLUGIN_CATALOGUE) CATALOGUE_SEVERITY[p.severity]++;

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

function normalise(opts: SyntheticReportOptions) {
  const hosts = Math.max(0, Math.floor(opts.hosts));
  const findingsPerHost = Math.max(0, Math.floor(opts.findingsPerHost));
  return {
    hosts,
    findingsPerHost,
    seed: opts.seed ?? 1,
    targets: opts.targets ?? [],
    credentialed: opts.credentialed ?? 'none',
    pluginOutputBytes: Math.max(0, Math.floor(opts.pluginOutputBytes ?? 0)),
    reportName: opts.reportName ?? 'synthetic-scan',
  };
}

/** Catalogue position of the first finding of host `i`; the host then walks the catalogue in order. */
function hostOffset(seed: number, i: number): number {
  return hash32(seed, i) % PLUGIN_CATALOGUE.length;
}

/** The counts `writeSyntheticReport` will produce for these options, computed without generating. */
export function expectedCounts(opts: SyntheticReportOptions): SyntheticReportCounts {
  const o = normalise(opts);
  const n = PLUGIN_CATALOGUE.length;
  const bySeverity = [0, 0, 0, 0, 0];
  const fullRounds = Math.floor(o.findingsPerHost / n);
  const rest = o.findingsPerHost % n;
  for (let i = 0; i < o.hosts; i++) {
    const off = hostOffset(o.seed, i);
    for (let k = 0; k < rest; k++) bySeverity[PLUGIN_CATALOGUE[(off + k) % n].severity]++;
  }
  for (let s = 0; s < 5; s++) bySeverity[s] += o.hosts * fullRounds * CATALOGUE_SEVERITY[s];
  const extras = CREDENTIAL_EXTRAS[o.credentialed].length * o.hosts;
  bySeverity[0] += extras;
  return {
    hosts: o.hosts,
    total: o.hosts * o.findingsPerHost + extras,
    severity: {
      critical: bySeverity[4],
      high: bySeverity[3],
      medium: bySeverity[2],
      low: bySeverity[1],
      info: bySeverity[0],
    },
  };
}

/** Plugins reported on host `i` (credential plugins first), for scan details consistent with the export. */
export function hostFindings(
  opts: SyntheticReportOptions,
  i: number,
): Array<{ pluginID: number; pluginName: string; pluginFamily: string; severity: number }> {
  const o = normalise(opts);
  const n = PLUGIN_CATALOGUE.length;
  const out: Array<{ pluginID: number; pluginName: string; pluginFamily: string; severity: number }> = [];
  for (const pluginID of CREDENTIAL_EXTRAS[o.credentialed]) {
    out.push({
      pluginID,
      pluginName: CREDENTIAL_PLUGIN_NAMES[pluginID],
      pluginFamily: 'Settings',
      severity: 0,
    });
  }
  const off = hostOffset(o.seed, i);
  for (let j = 0; j < o.findingsPerHost; j++) {
    const p = PLUGIN_CATALOGUE[(off + j) % n];
    out.push({
      pluginID: p.pluginID,
      pluginName: p.pluginName,
      pluginFamily: p.pluginFamily,
      severity: p.severity,
    });
  }
  return out;
}

const CREDENTIAL_PLUGIN_NAMES: Record<number, string> = {
  19506: 'Nessus Scan Information',
  141118: 'Target Credential Status by Authentication Protocol - Valid Credentials Provided',
  110095: 'Target Credential Issues by Authentication Protocol - No Issues Found',
  110385: 'Target Credential Issues by Authentication Protocol - Insufficient Privilege',
  104410: 'Target Credential Status by Authentication Protocol - Failure for Provided Credentials',
};

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;',
  );
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime layout Nessus uses in HostProperties, e.g. `Wed Jan  1 10:13:00 2025`. */
export function ctime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const pad = (x: number) => String(x).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${time} ${d.getUTCFullYear()}`;
}

function syntheticIp(i: number): string {
  return `10.${Math.floor(i / 64000) % 256}.${Math.floor(i / 250) % 256}.${1 + (i % 250)}`;
}

interface HostIdentity {
  name: string;
  ip: string;
  fqdn: string;
  windows: boolean;
}

function hostIdentity(o: ReturnType<typeof normalise>, i: number): HostIdentity {
  const target = o.targets[i];
  const windows = hash32(o.seed + 7, i) % 4 === 0;
  if (target && isIP(target))
    return { name: target, ip: target, fqdn: `host-${i + 1}.example.test`, windows };
  if (target) return { name: target, ip: syntheticIp(i), fqdn: target, windows };
  const ip = syntheticIp(i);
  return { name: ip, ip, fqdn: `host-${i + 1}.example.test`, windows };
}

/** Buffered writer that honours the destination's backpressure. */
class XmlSink {
  private buf = '';
  constructor(private readonly out: NodeJS.WritableStream) {}

  async push(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.buf) return;
    const chunk = this.buf;
    this.buf = '';
    if (!this.out.write(chunk)) await once(this.out as unknown as NodeJS.EventEmitter, 'drain');
  }
}

function el(name: string, text: string): string {
  return `<${name}>${escapeXml(text)}</${name}>\n`;
}

function padOutput(base: string, bytes: number): string {
  if (bytes <= base.length) return base;
  const filler = '\nAdditional detail collected by the plugin during the check of this service.';
  let s = base;
  while (s.length < bytes) s += filler;
  return s.slice(0, bytes);
}

function reportItem(p: CataloguePlugin, port: number, output: string): string {
  const attrs =
    `port="${port}" svc_name="${escapeXml(p.svcName)}" protocol="${p.protocol}" severity="${p.severity}" ` +
    `pluginID="${p.pluginID}" pluginName="${escapeXml(p.pluginName)}" pluginFamily="${escapeXml(p.pluginFamily)}"`;
  let s = `<ReportItem ${attrs}>\n`;
  for (const cve of p.cves ?? []) s += el('cve', cve);
  if (p.cvss3BaseScore) s += el('cvss3_base_score', p.cvss3BaseScore);
  if (p.cvss3Vector) s += el('cvss3_vector', p.cvss3Vector);
  if (p.cvssBaseScore) s += el('cvss_base_score', p.cvssBaseScore);
  if (p.cvssVector) s += el('cvss_vector', p.cvssVector);
  s += el('description', p.description);
  if (p.exploitAvailable !== undefined) s += el('exploit_available', String(p.exploitAvailable));
  s += el('fname', `plugin_${p.pluginID}.nasl`);
  s += el('plugin_modification_date', '2024/11/20');
  s += el('plugin_name', p.pluginName);
  s += el('plugin_publication_date', '2012/03/14');
  s += el('plugin_type', p.pluginType);
  s += el('risk_factor', RISK_FACTOR[p.severity]);
  s += el('script_version', '1.42');
  if (p.seeAlso?.length) s += el('see_also', p.seeAlso.join('\n'));
  s += el('solution', p.solution);
  s += el('synopsis', p.synopsis);
  for (const x of p.xrefs ?? []) s += el('xref', x);
  s += el('plugin_output', output);
  return s + '</ReportItem>\n';
}

function credentialItem(pluginID: number, status: string, reportName: string, username: string): string {
  const info = (
    name: string,
    family: string,
    synopsis: string,
    description: string,
    output: string,
    port = 0,
    svc = 'general',
  ): CataloguePlugin & { port: number } => ({
    pluginID,
    pluginName: name,
    pluginFamily: family,
    port,
    svcName: svc,
    protocol: 'tcp',
    severity: 0,
    pluginType: 'summary',
    synopsis,
    description,
    solution: 'n/a',
    output,
  });
  let p: CataloguePlugin;
  switch (pluginID) {
    case 19506: {
      const checks =
        status === 'success'
          ? `yes, as '${username}' via ssh`
          : status === 'partial'
            ? `partial, as '${username}' via ssh`
            : 'no';
      p = info(
        'Nessus Scan Information',
        'Settings',
        'This plugin displays information about the Nessus scan.',
        'This plugin displays, for each tested host, information about the scan itself.',
        `Information about this scan : \n\nNessus version : 10.8.3\nPlugin feed version : 202501010000\n` +
          `Scanner edition used : Nessus\nScan type : Normal\nScan name : ${reportName}\n` +
          `Scan policy used : Basic Network Scan\nScanner IP : 10.0.0.2\nPort scanner(s) : nessus_syn_scanner\n` +
          `Credentialed checks : ${checks}\nSafe checks : yes\nMax hosts : 30\nMax checks : 4\n`,
      );
      break;
    }
    case 141118:
      p = info(
        'Target Credential Status by Authentication Protocol - Valid Credentials Provided',
        'Settings',
        'Valid credentials were provided for an available authentication protocol.',
        'Nessus was able to log in to the remote host with the provided credentials.',
        `Nessus was able to log in to the remote host via the following :\n\n  User:       '${username}'\n  Port:       22\n  Proto:      SSH\n  Method:     password\n`,
        22,
        'ssh',
      );
      break;
    case 110095:
      p = info(
        'Target Credential Issues by Authentication Protocol - No Issues Found',
        'Settings',
        'Nessus was able to log in to the remote host using the provided credentials. No issues were reported.',
        'Valid credentials were provided for an authentication protocol and no issues were found.',
        `Nessus was able to execute commands on the remote host via SSH as '${username}' with sufficient privilege.`,
        22,
        'ssh',
      );
      break;
    case 110385:
      p = info(
        'Target Credential Issues by Authentication Protocol - Insufficient Privilege',
        'Settings',
        'Nessus was able to log in but the account lacks privileges for some checks.',
        'The account could log in but privilege escalation failed or was not configured, so some local checks did not run.',
        `Nessus was able to log in as '${username}' via SSH but could not obtain root privileges; some local checks were skipped.`,
        22,
        'ssh',
      );
      break;
    default:
      p = info(
        'Target Credential Status by Authentication Protocol - Failure for Provided Credentials',
        'Settings',
        'Nessus was unable to log in to the remote host with the provided credentials.',
        'The provided credentials were rejected for the authentication protocol.',
        `Nessus was unable to log into the following host for which credentials have been provided :\n\n  User:       '${username}'\n  Port:       22\n  Proto:      SSH\n  Method:     password\n`,
        22,
        'ssh',
      );
  }
  return reportItem(p, p.port, p.output);
}

function policyHeader(
  o: ReturnType<typeof normalise>,
  targetList: string,
  start: number,
  end: number,
): string {
  const pref = (name: string, value: string) =>
    `<preference><name>${escapeXml(name)}</name><value>${escapeXml(value)}</value></preference>\n`;
  return (
    '<?xml version="1.0" ?>\n<NessusClientData_v2>\n<Policy><policyName>Basic Network Scan</policyName>\n' +
    '<Preferences><ServerPreferences>\n' +
    pref('TARGET', targetList) +
    pref('scan_name', o.reportName) +
    pref('name', o.reportName) +
    pref('whoami', 'nessus') +
    pref('wizard_uuid', BASIC_TEMPLATE_UUID) +
    pref('scan_start_timestamp', String(start)) +
    pref('scan_end_timestamp', String(end)) +
    pref('plugin_set', '202501010000') +
    pref('max_hosts', '30') +
    pref('max_checks', '4') +
    pref('safe_checks', 'yes') +
    pref('port_range', 'default') +
    '</ServerPreferences>\n<PluginsPreferences></PluginsPreferences>\n</Preferences>\n' +
    '<FamilySelection>\n' +
    ['General', 'Misc.', 'Port scanners', 'Service detection', 'Settings', 'Web Servers', 'Windows']
      .map(
        (f) => `<FamilyItem><FamilyName>${escapeXml(f)}</FamilyName><Status>enabled</Status></FamilyItem>\n`,
      )
      .join('') +
    '</FamilySelection>\n<IndividualPluginSelection></IndividualPluginSelection>\n</Policy>\n' +
    `<Report name="${escapeXml(o.reportName)}" xmlns:cm="http://www.nessus.org/cm">\n`
  );
}

/**
 * Streams a synthetic report to `out` (not ended here, so callers can pipe into files, sockets or gzip).
 * Memory stays bounded by one flush buffer whatever the report size.
 */
export async function writeSyntheticReport(
  out: NodeJS.WritableStream,
  opts: SyntheticReportOptions,
): Promise<SyntheticReportCounts> {
  const o = normalise(opts);
  const n = PLUGIN_CATALOGUE.length;
  const sink = new XmlSink(out);
  const start = BASE_EPOCH + (o.seed % 1000) * 60;
  const hostSeconds = 90;
  const end = start + Math.max(1, o.hosts) * hostSeconds + 60;
  const targetList = o.targets.length
    ? o.targets.join(',')
    : o.hosts
      ? `${syntheticIp(0)}-${syntheticIp(o.hosts - 1)}`
      : '';
  const username = 'scanuser';
  const credentialed = o.credentialed !== 'none';
  const counts = [0, 0, 0, 0, 0];
  let total = 0;

  await sink.push(policyHeader(o, targetList, start, end));
  for (let i = 0; i < o.hosts; i++) {
    const id = hostIdentity(o, i);
    const hStart = start + i * hostSeconds;
    const hEnd = hStart + hostSeconds - 7;
    const tag = (name: string, value: string) => `<tag name="${name}">${escapeXml(value)}</tag>\n`;
    await sink.push(
      `<ReportHost name="${escapeXml(id.name)}"><HostProperties>\n` +
        tag('HOST_END_TIMESTAMP', String(hEnd)) +
        tag('HOST_END', ctime(hEnd)) +
        tag(
          'operating-system',
          id.windows ? 'Microsoft Windows Server 2019 Standard' : 'Linux Kernel 5.15 on Ubuntu 22.04',
        ) +
        tag('operating-system-method', credentialed ? 'SSH' : 'Remote fingerprint') +
        tag('os', id.windows ? 'windows' : 'linux') +
        tag('system-type', 'general-purpose') +
        tag('host-fqdn', id.fqdn) +
        tag('hostname', id.fqdn.split('.')[0]) +
        tag('Credentialed_Scan', String(o.credentialed === 'success' || o.credentialed === 'partial')) +
        tag('policy-used', 'Basic Network Scan') +
        tag('host-ip', id.ip) +
        tag('HOST_START_TIMESTAMP', String(hStart)) +
        tag('HOST_START', ctime(hStart)) +
        '</HostProperties>\n',
    );
    for (const pluginID of CREDENTIAL_EXTRAS[o.credentialed]) {
      await sink.push(credentialItem(pluginID, o.credentialed, o.reportName, username));
      counts[0]++;
      total++;
    }
    const off = hostOffset(o.seed, i);
    for (let j = 0; j < o.findingsPerHost; j++) {
      const p = PLUGIN_CATALOGUE[(off + j) % n];
      const round = Math.floor(j / n);
      // later rounds move the finding to another port so (plugin, port) stays distinct on a host
      const port = p.port === 0 || round === 0 ? p.port : 1024 + ((p.port + round * 97) % 64000);
      await sink.push(reportItem(p, port, padOutput(p.output, o.pluginOutputBytes)));
      counts[p.severity]++;
      total++;
    }
    await sink.push('</ReportHost>\n');
  }
  await sink.push('</Report>\n</NessusClientData_v2>\n');
  await sink.flush();
  return {
    hosts: o.hosts,
    total,
    severity: { critical: counts[4], high: counts[3], medium: counts[2], low: counts[1], info: counts[0] },
  };
}
