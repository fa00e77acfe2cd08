import { Injectable } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';

/** SSH credentials of an authenticated scan, exactly as the create step needs them. */
export interface ScanCredentials {
  username: string;
  password?: string;
  privateKey?: string;
  elevatePrivilegesWith: 'Nothing' | 'sudo' | 'su';
  escalationAccount?: string;
  escalationPassword?: string;
}

/**
 * Hands scan credentials from the API to the worker that creates the Nessus scan. They live only in
 * Redis (never in task files or job data) and are deleted as soon as the Nessus scan holding them exists.
 */
@Injectable()
export class CredentialVault {
  /** Bounded even if a task is abandoned; a task waiting longer than this fails with a clear error. */
  static readonly TTL_SECONDS = 7 * 86400;

  constructor(private readonly redis: RedisService) {}

  private key(taskId: string): string {
    return this.redis.key('creds', taskId);
  }

  async put(taskId: string, creds: ScanCredentials): Promise<void> {
    await this.redis.client.set(
      this.key(taskId),
      JSON.stringify(creds),
      'EX',
      CredentialVault.TTL_SECONDS,
      'NX',
    );
  }

  async get(taskId: string): Promise<ScanCredentials | null> {
    const raw = await this.redis.client.get(this.key(taskId));
    return raw ? (JSON.parse(raw) as ScanCredentials) : null;
  }

  async discard(taskId: string): Promise<void> {
    await this.redis.client.del(this.key(taskId));
  }
}
