/** The finding model and its field catalogue (SPEC §5). Pure: no framework imports. */

export const SEVERITY_LABELS = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type SeverityLabel = (typeof SEVERITY_LABELS)[number];

/** One ReportItem of a .nessus export, merged with the identifying properties of its host. */
export interface Finding {
  host: string;
  host_ip: string | null;
  host_fqdn: string | null;
  os: string | null;
  port: number;
  protocol: string;
  service: string;
  plugin_id: number;
  plugin_name: string;
  plugin_family: string;
  severity: number;
  severity_label: SeverityLabel;
  risk_factor: string | null;
  synopsis: string | null;
  description: string | null;
  solution: string | null;
  plugin_output: string | null;
  cve: string[];
  /** CVSS v3 base score if present, else v2. */
  cvss_score: number | null;
  cvss_base_score: number | null;
  cvss_vector: string | null;
  cvss3_base_score: number | null;
  cvss3_vector: string | null;
  exploit_available: boolean;
  see_also: string[];
  // The rest of the ReportItem, for the 'full' profile.
  host_netbios_name: string | null;
  host_mac_address: string | null;
  plugin_type: string | null;
  plugin_publication_date: string | null;
  plugin_modification_date: string | null;
  patch_publication_date: string | null;
  vuln_publication_date: string | null;
  script_version: string | null;
  fname: string | null;
  cvss_temporal_score: number | null;
  cvss_temporal_vector: string | null;
  cvss3_temporal_score: number | null;
  cvss3_temporal_vector: string | null;
  vpr_score: number | null;
  epss_score: number | null;
  exploitability_ease: string | null;
  exploit_code_maturity: string | null;
  exploited_by_malware: boolean | null;
  in_the_news: boolean | null;
  exploit_framework_metasploit: boolean | null;
  exploit_framework_core: boolean | null;
  exploit_framework_canvas: boolean | null;
  metasploit_name: string | null;
  canvas_package: string | null;
  cisa_known_exploited: string | null;
  stig_severity: string | null;
  bid: string[];
  xref: string[];
  iava: string[];
  iavt: string[];
  cwe: string[];
  cpe: string[];
  /** Any other ReportItem child element, by element name (text, bounded). */
  other: Record<string, string>;
}

export type FieldType = 'string' | 'number' | 'boolean' | 'string[]' | 'object';

/** Every field of a finding with its type: the contract for profiles, custom_fields and filters. */
export const FINDING_FIELDS: Readonly<Record<keyof Finding, FieldType>> = {
  host: 'string',
  host_ip: 'string',
  host_fqdn: 'string',
  os: 'string',
  port: 'number',
  protocol: 'string',
  service: 'string',
  plugin_id: 'number',
  plugin_name: 'string',
  plugin_family: 'string',
  severity: 'number',
  severity_label: 'string',
  risk_factor: 'string',
  synopsis: 'string',
  description: 'string',
  solution: 'string',
  plugin_output: 'string',
  cve: 'string[]',
  cvss_score: 'number',
  cvss_base_score: 'number',
  cvss_vector: 'string',
  cvss3_base_score: 'number',
  cvss3_vector: 'string',
  exploit_available: 'boolean',
  see_also: 'string[]',
  host_netbios_name: 'string',
  host_mac_address: 'string',
  plugin_type: 'string',
  plugin_publication_date: 'string',
  plugin_modification_date: 'string',
  patch_publication_date: 'string',
  vuln_publication_date: 'string',
  script_version: 'string',
  fname: 'string',
  cvss_temporal_score: 'number',
  cvss_temporal_vector: 'string',
  cvss3_temporal_score: 'number',
  cvss3_temporal_vector: 'string',
  vpr_score: 'number',
  epss_score: 'number',
  exploitability_ease: 'string',
  exploit_code_maturity: 'string',
  exploited_by_malware: 'boolean',
  in_the_news: 'boolean',
  exploit_framework_metasploit: 'boolean',
  exploit_framework_core: 'boolean',
  exploit_framework_canvas: 'boolean',
  metasploit_name: 'string',
  canvas_package: 'string',
  cisa_known_exploited: 'string',
  stig_severity: 'string',
  bid: 'string[]',
  xref: 'string[]',
  iava: 'string[]',
  iavt: 'string[]',
  cwe: 'string[]',
  cpe: 'string[]',
  other: 'object',
};

export type FindingField = keyof Finding;
export const FINDING_FIELD_NAMES = Object.keys(FINDING_FIELDS) as FindingField[];

export function isFindingField(name: string): name is FindingField {
  return Object.prototype.hasOwnProperty.call(FINDING_FIELDS, name);
}

/** Free-text fields written by plugins from what scanned hosts returned. */
export const UNTRUSTED_TEXT_FIELDS: readonly FindingField[] = [
  'plugin_output',
  'description',
  'solution',
  'synopsis',
  'see_also',
  'other',
];

export function severityLabel(severity: number): SeverityLabel {
  return SEVERITY_LABELS[Math.min(4, Math.max(0, Math.trunc(severity)))];
}
