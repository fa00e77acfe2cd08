import { ValidationError } from '../../common/errors';

/** SSH credentials for an authenticated scan. */
export interface SshCredentials {
  username: string;
  password?: string;
  privateKey?: string;
  elevatePrivilegesWith: 'Nothing' | 'sudo' | 'su';
  /** sudo: the user to run as; su: the account to switch to. Default root. */
  escalationAccount?: string;
  /** sudo: the sudo password (defaults to the SSH password); su: the account's password (required). */
  escalationPassword?: string;
}

export interface NessusScanSpec {
  name: string;
  description?: string;
  targets: string[];
  credentials?: SshCredentials;
}

/** Body of POST /scans (NESSUS_API.md §4). */
export interface CreateScanPayload {
  uuid: string;
  settings: {
    name: string;
    description: string;
    text_targets: string;
    enabled: boolean;
    launch: 'ON_DEMAND';
    launch_now: boolean;
    folder_id: number;
    scanner_id: number;
  };
  credentials?: {
    add: { Host: { SSH: Array<Record<string, string>> } };
    edit: Record<string, never>;
    delete: never[];
  };
}

export const MY_SCANS_FOLDER_ID = 3;
export const LOCAL_SCANNER_ID = 1;

/**
 * One SSH credential entry as the Nessus editor names its fields. `uploadedKeyFile` is the name
 * POST /file/upload returned for the private key (Nessus takes key files by upload, not inline).
 */
export function buildSshCredential(creds: SshCredentials, uploadedKeyFile?: string): Record<string, string> {
  const problems: Record<string, string> = {};
  if (!creds.username?.trim()) problems.ssh_username = 'is required';
  if (!creds.password && !creds.privateKey) problems.ssh_password = 'a password or a private key is required';
  if (creds.privateKey && !uploadedKeyFile)
    problems.ssh_private_key = 'must be uploaded before the scan is created';
  if (!['Nothing', 'sudo', 'su'].includes(creds.elevatePrivilegesWith)) {
    problems.elevate_privileges_with = 'must be Nothing, sudo or su';
  }
  if (creds.elevatePrivilegesWith === 'su' && !creds.escalationPassword) {
    problems.escalation_password = 'is required for su';
  }
  if (creds.elevatePrivilegesWith === 'sudo' && !creds.escalationPassword && !creds.password) {
    problems.escalation_password = 'is required for sudo with key authentication';
  }
  if (Object.keys(problems).length) throw ValidationError.forFields(problems);

  const entry: Record<string, string> = creds.privateKey
    ? {
        auth_method: 'public key',
        username: creds.username,
        private_key: uploadedKeyFile as string,
        private_key_passphrase: '',
      }
    : { auth_method: 'password', username: creds.username, password: creds.password as string };
  entry.elevate_privileges_with = creds.elevatePrivilegesWith;
  entry.custom_password_prompt = '';
  entry.target_priority_list = '';
  if (creds.elevatePrivilegesWith !== 'Nothing') {
    entry.escalation_account = creds.escalationAccount?.trim() || 'root';
    // sudo asks for the login user's own password unless told otherwise
    entry.escalation_password = creds.escalationPassword ?? (creds.password as string);
  }
  if (creds.elevatePrivilegesWith === 'sudo') entry.bin_directory = '';
  return entry;
}

/** The POST /scans body for an on-demand scan in "My Scans" on the local scanner. */
export function buildCreateScanPayload(
  templateUuid: string,
  spec: NessusScanSpec,
  uploadedKeyFile?: string,
): CreateScanPayload {
  const problems: Record<string, string> = {};
  if (!spec.name?.trim()) problems.name = 'is required';
  const targets = spec.targets.map((t) => t.trim()).filter(Boolean);
  if (targets.length === 0) problems.targets = 'at least one target is required';
  if (Object.keys(problems).length) throw ValidationError.forFields(problems);

  const payload: CreateScanPayload = {
    uuid: templateUuid,
    settings: {
      name: spec.name,
      description: spec.description ?? '',
      text_targets: targets.join(','),
      enabled: false,
      launch: 'ON_DEMAND',
      launch_now: false,
      folder_id: MY_SCANS_FOLDER_ID,
      scanner_id: LOCAL_SCANNER_ID,
    },
  };
  if (spec.credentials) {
    payload.credentials = {
      add: { Host: { SSH: [buildSshCredential(spec.credentials, uploadedKeyFile)] } },
      edit: {},
      delete: [],
    };
  }
  return payload;
}
