/**
 * Size limits of a scan submission's fields, one set for REST and MCP alike (the target policy counts
 * addresses separately, up to MAX_TARGET_ADDRESSES).
 */
export const SUBMISSION_LIMITS = {
  /** One targets string: the whole value, or one entry of a list. */
  targetsText: 65_536,
  /** Entries of a targets list. */
  targetEntries: 4096,
  name: 256,
  description: 4096,
  idempotencyKey: 255,
  sshUsername: 256,
  sshPassword: 1024,
  sshPrivateKey: 65_536,
  escalationAccount: 256,
  escalationPassword: 1024,
} as const;
