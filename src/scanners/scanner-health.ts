import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';
import { CircuitBreakers } from './circuit-breakers';

/**
 * Which scanners are unhealthy as any process found them: a process whose circuit for a scanner opens
 * marks it in Redis until that circuit closes, renewing the mark while it stays open, so an api-only
 * process (it makes no Nessus calls) reports what the workers found. A mark whose process stopped
 * renewing it (killed) expires after three half-open intervals.
 */
@Injectable()
export class ScannerHealth implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(ScannerHealth.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly breakers: CircuitBreakers,
    private readonly redis: RedisService,
  ) {}

  onModuleInit(): void {
    this.breakers.onChange(
      (instanceId, open) => void (open ? this.mark(instanceId) : this.clear(instanceId)),
    );
    this.timer = setInterval(() => {
      for (const instanceId of this.breakers.openInstances()) void this.mark(instanceId);
    }, this.breakers.halfOpenAfterMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** The ones among `instanceIds` whose circuit is open in this process or marked open by another. */
  async openAmong(instanceIds: readonly string[]): Promise<Set<string>> {
    const open = new Set(instanceIds.filter((id) => !this.breakers.isHealthy(id)));
    if (instanceIds.length === 0) return open;
    try {
      const marks = await this.redis.client.mget(instanceIds.map((id) => this.key(id)));
      marks.forEach((mark, i) => mark !== null && open.add(instanceIds[i]));
    } catch (err) {
      // Redis down: this process's own view (readiness reports Redis by itself).
      this.log.debug(`scanner health marks not read: ${(err as Error).message}`);
    }
    return open;
  }

  private key(instanceId: string): string {
    return this.redis.key('scanner-open', instanceId);
  }

  private async mark(instanceId: string): Promise<void> {
    const ttlMs = 3 * this.breakers.halfOpenAfterMs;
    await this.redis.client
      .set(this.key(instanceId), String(Date.now()), 'PX', ttlMs)
      .catch((err: Error) => this.log.debug(`scanner ${instanceId}: open mark not written: ${err.message}`));
  }

  private async clear(instanceId: string): Promise<void> {
    await this.redis.client
      .del(this.key(instanceId))
      .catch((err: Error) => this.log.debug(`scanner ${instanceId}: open mark not removed: ${err.message}`));
  }
}
