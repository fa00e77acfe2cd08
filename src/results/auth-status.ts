/**
 * authentication_status of credentialed scans, read from the plugins Nessus uses to report
 * credential status. Pure: no framework imports.
 *
 * Per host, the first rule that has evidence decides:
 * 1. Credential-status plugins (authoritative; they report per protocol what happened at login):
 *    - 104410 failure for provided credentials, with no protocol succeeding      → failed
 *    - 104410 on one protocol while another succeeded (141118 / 110095)          → partial
 *    - 110385 insufficient privilege or 117885 intermittent failure               → partial
 *    - 141118 valid credentials or 110095 no credential issues                    → success
 *    - only 110723 no credentials provided                                        → failed
 * 2. Plugin 19506 "Credentialed checks : yes… | no… | partial…". Its text can claim "yes" when a
 *    login failed (e.g. under paranoid reporting), which is why rule 1 wins whenever present.
 * 3. The host property Credentialed_Scan true/false.
 * 4. No evidence at all: failed (nothing shows the credentials were used).
 * Over hosts: all success → success; all failed (or no hosts) → failed; otherwise partial.
 */
import type { AuthenticationStatus } from '../tasks/task';

export type HostAuthStatus = Exclude<AuthenticationStatus, 'not_applicable'>;

export const SCAN_INFORMATION_PLUGIN = 19506;
export const CREDENTIAL_PLUGINS = {
  validCredentials: 141118,
  noCredentialIssues: 110095,
  failedCredentials: 104410,
  insufficientPrivilege: 110385,
  intermittentFailure: 117885,
  noCredentialsProvided: 110723,
} as const;

const CREDENTIAL_PLUGIN_IDS: ReadonlySet<number> = new Set(Object.values(CREDENTIAL_PLUGINS));

/** The word after "Credentialed checks :" in plugin 19506's output, if there is one. */
export function parseCredentialedChecks(pluginOutput: string | null): 'yes' | 'no' | 'partial' | null {
  const match = /Credentialed checks\s*:\s*(yes|no|partial)\b/i.exec(pluginOutput ?? '');
  return match ? (match[1].toLowerCase() as 'yes' | 'no' | 'partial') : null;
}

/** Evidence about credential use on one host, gathered item by item while the report streams. */
export class HostCredentialEvidence {
  private readonly seen = new Set<number>();
  private scanInformation: 'yes' | 'no' | 'partial' | null = null;
  credentialedScanProperty: boolean | null = null;

  observe(pluginId: number, pluginOutput: string | null): void {
    if (CREDENTIAL_PLUGIN_IDS.has(pluginId)) this.seen.add(pluginId);
    else if (pluginId === SCAN_INFORMATION_PLUGIN) {
      this.scanInformation = parseCredentialedChecks(pluginOutput) ?? this.scanInformation;
    }
  }

  status(): HostAuthStatus {
    const has = (id: number) => this.seen.has(id);
    const succeeded = has(CREDENTIAL_PLUGINS.validCredentials) || has(CREDENTIAL_PLUGINS.noCredentialIssues);
    if (has(CREDENTIAL_PLUGINS.failedCredentials)) return succeeded ? 'partial' : 'failed';
    if (has(CREDENTIAL_PLUGINS.insufficientPrivilege) || has(CREDENTIAL_PLUGINS.intermittentFailure)) {
      return 'partial';
    }
    if (succeeded) return 'success';
    if (has(CREDENTIAL_PLUGINS.noCredentialsProvided)) return 'failed';

    if (this.scanInformation === 'yes') return 'success';
    if (this.scanInformation === 'partial') return 'partial';
    if (this.scanInformation === 'no') return 'failed';

    if (this.credentialedScanProperty !== null) return this.credentialedScanProperty ? 'success' : 'failed';
    return 'failed';
  }
}

export function summariseAuthentication(hosts: Iterable<HostAuthStatus>): HostAuthStatus {
  let total = 0;
  let success = 0;
  let failed = 0;
  for (const status of hosts) {
    total++;
    if (status === 'success') success++;
    else if (status === 'failed') failed++;
  }
  if (total === 0 || failed === total) return 'failed';
  return success === total ? 'success' : 'partial';
}
