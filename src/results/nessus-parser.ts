/**
 * Streaming parser of NessusClientData_v2 (.nessus) exports into findings (NESSUS_API §8).
 * Pure: no framework imports. It never builds a tree or holds the document: it keeps the current
 * host's identifying properties and the current ReportItem, each text bounded (text-bounds.ts).
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';

import { type Finding, severityLabel } from './finding';
import {
  BoundedText,
  LONG_TEXT_LIMIT_BYTES,
  ownCopy,
  MAX_LIST_ELEMENTS,
  MAX_OTHER_FIELDS,
  SHORT_TEXT_LIMIT_BYTES,
  truncateText,
} from './text-bounds';

/** The scan-level facts found in the Policy and Report elements. */
export interface ReportMetadata {
  report_name: string | null;
  policy_name: string | null;
  scan_name: string | null;
  /** The TARGET server preference: what Nessus was asked to scan. */
  targets: string | null;
  scan_start: string | null;
  scan_end: string | null;
}

export interface ReportHostInfo {
  host: string;
  host_ip: string | null;
  host_fqdn: string | null;
  os: string | null;
  /** The Credentialed_Scan host property, when Nessus wrote one. */
  credentialed_scan: boolean | null;
  findings: number;
}

export interface NessusParserHandlers {
  finding(finding: Finding): void;
  hostStart?(host: string): void;
  hostEnd?(host: ReportHostInfo): void;
}

type ItemFieldKind = 'long' | 'short' | 'number' | 'boolean' | 'list' | 'lines';

/** ReportItem children mapped to finding fields; anything else lands in `other`. */
const ITEM_CHILDREN: Record<string, { field: keyof Finding; kind: ItemFieldKind }> = {
  description: { field: 'description', kind: 'long' },
  solution: { field: 'solution', kind: 'long' },
  synopsis: { field: 'synopsis', kind: 'long' },
  plugin_output: { field: 'plugin_output', kind: 'long' },
  see_also: { field: 'see_also', kind: 'lines' },
  cpe: { field: 'cpe', kind: 'lines' },
  risk_factor: { field: 'risk_factor', kind: 'short' },
  plugin_type: { field: 'plugin_type', kind: 'short' },
  plugin_publication_date: { field: 'plugin_publication_date', kind: 'short' },
  plugin_modification_date: { field: 'plugin_modification_date', kind: 'short' },
  patch_publication_date: { field: 'patch_publication_date', kind: 'short' },
  vuln_publication_date: { field: 'vuln_publication_date', kind: 'short' },
  script_version: { field: 'script_version', kind: 'short' },
  fname: { field: 'fname', kind: 'short' },
  cvss_vector: { field: 'cvss_vector', kind: 'short' },
  cvss3_vector: { field: 'cvss3_vector', kind: 'short' },
  cvss_temporal_vector: { field: 'cvss_temporal_vector', kind: 'short' },
  cvss3_temporal_vector: { field: 'cvss3_temporal_vector', kind: 'short' },
  exploitability_ease: { field: 'exploitability_ease', kind: 'short' },
  exploit_code_maturity: { field: 'exploit_code_maturity', kind: 'short' },
  metasploit_name: { field: 'metasploit_name', kind: 'short' },
  canvas_package: { field: 'canvas_package', kind: 'short' },
  'cisa-known-exploited': { field: 'cisa_known_exploited', kind: 'short' },
  stig_severity: { field: 'stig_severity', kind: 'short' },
  cvss_base_score: { field: 'cvss_base_score', kind: 'number' },
  cvss3_base_score: { field: 'cvss3_base_score', kind: 'number' },
  cvss_temporal_score: { field: 'cvss_temporal_score', kind: 'number' },
  cvss3_temporal_score: { field: 'cvss3_temporal_score', kind: 'number' },
  vpr_score: { field: 'vpr_score', kind: 'number' },
  epss_score: { field: 'epss_score', kind: 'number' },
  exploit_available: { field: 'exploit_available', kind: 'boolean' },
  exploited_by_malware: { field: 'exploited_by_malware', kind: 'boolean' },
  in_the_news: { field: 'in_the_news', kind: 'boolean' },
  exploit_framework_metasploit: { field: 'exploit_framework_metasploit', kind: 'boolean' },
  exploit_framework_core: { field: 'exploit_framework_core', kind: 'boolean' },
  exploit_framework_canvas: { field: 'exploit_framework_canvas', kind: 'boolean' },
  cve: { field: 'cve', kind: 'list' },
  bid: { field: 'bid', kind: 'list' },
  xref: { field: 'xref', kind: 'list' },
  iava: { field: 'iava', kind: 'list' },
  iavt: { field: 'iavt', kind: 'list' },
  cwe: { field: 'cwe', kind: 'list' },
};

/** Children that repeat an attribute already read. */
const IGNORED_CHILDREN = new Set(['plugin_name']);

const HOST_TAGS = new Set([
  'host-ip',
  'host-fqdn',
  'operating-system',
  'os',
  'netbios-name',
  'mac-address',
  'Credentialed_Scan',
]);
const SERVER_PREFERENCES: Record<string, keyof ReportMetadata> = {
  TARGET: 'targets',
  scan_name: 'scan_name',
  scan_start_timestamp: 'scan_start',
  scan_end_timestamp: 'scan_end',
};

interface HostContext {
  name: string;
  tags: Map<string, string>;
  findings: number;
}

interface ItemContext {
  attrs: Record<string, string>;
  finding: Finding;
}

function shortText(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : truncateText(trimmed, SHORT_TEXT_LIMIT_BYTES);
}

/** shortText for values kept after the current host (see ownCopy). */
function keptText(value: string | undefined): string | null {
  const text = shortText(value);
  return text === null ? null : ownCopy(text);
}

function toInt(value: string | undefined): number {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) ? n : 0;
}

function toNumber(value: string): number | null {
  const trimmed = value.trim();
  if (trimmed === '') return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

function toBoolean(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'yes') return true;
  if (v === 'false' || v === 'no') return false;
  return null;
}

function pushBounded(list: string[], value: string): void {
  const trimmed = value.trim();
  if (trimmed !== '' && list.length < MAX_LIST_ELEMENTS)
    list.push(truncateText(trimmed, SHORT_TEXT_LIMIT_BYTES));
}

function emptyFinding(host: HostContext, attrs: Record<string, string>): Finding {
  const severity = Math.min(4, Math.max(0, toInt(attrs.severity)));
  const tag = (name: string) => shortText(host.tags.get(name));
  return {
    host: truncateText(host.name, SHORT_TEXT_LIMIT_BYTES),
    host_ip: tag('host-ip'),
    host_fqdn: tag('host-fqdn'),
    os: tag('operating-system') ?? tag('os'),
    port: toInt(attrs.port),
    protocol: shortText(attrs.protocol) ?? '',
    service: shortText(attrs.svc_name) ?? '',
    plugin_id: toInt(attrs.pluginID),
    plugin_name: shortText(attrs.pluginName) ?? '',
    plugin_family: shortText(attrs.pluginFamily) ?? '',
    severity,
    severity_label: severityLabel(severity),
    risk_factor: null,
    synopsis: null,
    description: null,
    solution: null,
    plugin_output: null,
    cve: [],
    cvss_score: null,
    cvss_base_score: null,
    cvss_vector: null,
    cvss3_base_score: null,
    cvss3_vector: null,
    exploit_available: false,
    see_also: [],
    host_netbios_name: tag('netbios-name'),
    host_mac_address: tag('mac-address'),
    plugin_type: null,
    plugin_publication_date: null,
    plugin_modification_date: null,
    patch_publication_date: null,
    vuln_publication_date: null,
    script_version: null,
    fname: null,
    cvss_temporal_score: null,
    cvss_temporal_vector: null,
    cvss3_temporal_score: null,
    cvss3_temporal_vector: null,
    vpr_score: null,
    epss_score: null,
    exploitability_ease: null,
    exploit_code_maturity: null,
    exploited_by_malware: null,
    in_the_news: null,
    exploit_framework_metasploit: null,
    exploit_framework_core: null,
    exploit_framework_canvas: null,
    metasploit_name: null,
    canvas_package: null,
    cisa_known_exploited: null,
    stig_severity: null,
    bid: [],
    xref: [],
    iava: [],
    iavt: [],
    cwe: [],
    cpe: [],
    other: {},
  };
}

function applyChild(finding: Finding, name: string, text: BoundedText): void {
  if (IGNORED_CHILDREN.has(name)) return;
  const spec = ITEM_CHILDREN[name];
  const record = finding as unknown as Record<string, unknown>;
  if (!spec) {
    const value = text.value();
    if (value !== '' && Object.keys(finding.other).length < MAX_OTHER_FIELDS) finding.other[name] = value;
    return;
  }
  const value = text.value();
  switch (spec.kind) {
    case 'long':
      record[spec.field] = value === '' ? null : value;
      break;
    case 'short':
      record[spec.field] = shortText(value);
      break;
    case 'number':
      record[spec.field] = toNumber(value);
      break;
    case 'boolean':
      record[spec.field] = spec.field === 'exploit_available' ? toBoolean(value) === true : toBoolean(value);
      break;
    case 'list':
      pushBounded(record[spec.field] as string[], value);
      break;
    case 'lines':
      for (const line of value.split(/\r?\n/)) pushBounded(record[spec.field] as string[], line);
      break;
  }
}

/**
 * A push parser: feed it text chunks with write() (any chunk boundaries), then close().
 * Handlers run synchronously during write(); the caller applies backpressure between writes.
 */
export class NessusReportParser {
  readonly metadata: ReportMetadata = {
    report_name: null,
    policy_name: null,
    scan_name: null,
    targets: null,
    scan_start: null,
    scan_end: null,
  };
  private readonly sax = new SaxesParser<{ xmlns: false; position: false }>({
    xmlns: false,
    position: false,
  });
  private host: HostContext | null = null;
  private item: ItemContext | null = null;
  private text: BoundedText | null = null;
  private hostTag: string | null = null;
  private preference: { name: string | null; value: string | null } | null = null;
  private sawRoot = false;

  constructor(private readonly handlers: NessusParserHandlers) {
    this.sax.on('opentag', (tag) => this.open(tag));
    this.sax.on('closetag', (tag) => this.close(tag));
    this.sax.on('text', (t) => this.text?.append(t));
    this.sax.on('cdata', (t) => this.text?.append(t));
  }

  write(chunk: string): void {
    this.sax.write(chunk);
  }

  end(): void {
    this.sax.close();
    if (!this.sawRoot) throw new Error('not a .nessus export: no NessusClientData_v2 element');
  }

  private open(tag: SaxesTagPlain): void {
    const name = tag.name;
    if (this.item) {
      this.text = new BoundedText(LONG_TEXT_LIMIT_BYTES);
      return;
    }
    switch (name) {
      case 'NessusClientData_v2':
        this.sawRoot = true;
        return;
      case 'Report':
        this.metadata.report_name = keptText(tag.attributes.name);
        return;
      case 'ReportHost':
        this.host = { name: tag.attributes.name ?? '', tags: new Map(), findings: 0 };
        this.handlers.hostStart?.(this.host.name);
        return;
      case 'tag':
        if (this.host && HOST_TAGS.has(tag.attributes.name ?? '')) {
          this.hostTag = tag.attributes.name;
          this.text = new BoundedText(SHORT_TEXT_LIMIT_BYTES);
        }
        return;
      case 'ReportItem':
        if (this.host)
          this.item = { attrs: tag.attributes, finding: emptyFinding(this.host, tag.attributes) };
        return;
      case 'policyName':
        this.text = new BoundedText(SHORT_TEXT_LIMIT_BYTES);
        return;
      case 'preference':
        this.preference = { name: null, value: null };
        return;
      case 'name':
      case 'value':
        if (this.preference) this.text = new BoundedText(LONG_TEXT_LIMIT_BYTES);
        return;
    }
  }

  private close(tag: SaxesTagPlain): void {
    const name = tag.name;
    if (this.item) {
      if (name === 'ReportItem') {
        this.finishItem(this.item.finding);
        this.item = null;
      } else if (this.text) {
        applyChild(this.item.finding, name, this.text);
      }
      this.text = null;
      return;
    }
    switch (name) {
      case 'tag':
        if (this.host && this.hostTag && this.text) this.host.tags.set(this.hostTag, this.text.value());
        this.hostTag = null;
        break;
      case 'ReportHost':
        if (this.host) this.finishHost(this.host);
        this.host = null;
        break;
      case 'policyName':
        if (this.text) this.metadata.policy_name = keptText(this.text.value());
        break;
      case 'name':
        if (this.preference && this.text) this.preference.name = this.text.value();
        break;
      case 'value':
        if (this.preference && this.text) this.preference.value = this.text.value();
        break;
      case 'preference': {
        const key = this.preference?.name ? SERVER_PREFERENCES[this.preference.name] : undefined;
        if (key && this.preference?.value) this.metadata[key] = keptText(this.preference.value);
        this.preference = null;
        break;
      }
    }
    this.text = null;
  }

  private finishItem(finding: Finding): void {
    finding.cvss_score = finding.cvss3_base_score ?? finding.cvss_base_score;
    if (this.host) this.host.findings++;
    this.handlers.finding(finding);
  }

  private finishHost(host: HostContext): void {
    const tag = (name: string) => keptText(host.tags.get(name));
    const credentialed = host.tags.get('Credentialed_Scan');
    this.handlers.hostEnd?.({
      host: ownCopy(truncateText(host.name, SHORT_TEXT_LIMIT_BYTES)),
      host_ip: tag('host-ip'),
      host_fqdn: tag('host-fqdn'),
      os: tag('operating-system') ?? tag('os'),
      credentialed_scan: credentialed === undefined ? null : toBoolean(credentialed),
      findings: host.findings,
    });
  }
}

/** Parses a whole report held in memory: for tests and small inputs only. */
export function parseNessusString(xml: string): {
  findings: Finding[];
  hosts: ReportHostInfo[];
  metadata: ReportMetadata;
} {
  const findings: Finding[] = [];
  const hosts: ReportHostInfo[] = [];
  const parser = new NessusReportParser({ finding: (f) => findings.push(f), hostEnd: (h) => hosts.push(h) });
  parser.write(xml);
  parser.end();
  return { findings, hosts, metadata: parser.metadata };
}
