import { BeforeApplicationShutdown, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { randomBytes } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../common/redis/redis.service';
import { ConsumerState } from '../queue/consumer-state';
import { ScannerHealth } from '../scanners/scanner-health';
import { ScannerRegistry } from '../scanners/scanner-registry.service';

/** The checks behind /health/ready (SPEC §9). */
@Injectable()
export class ReadinessHealth implements BeforeApplicationShutdown {
  private shuttingDown = false;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly registry: ScannerRegistry,
    private readonly health: ScannerHealth,
    @Optional() private readonly consumers?: ConsumerState,
  ) {}

  /** Load balancers stop sending new work while in-flight requests and steps finish. */
  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }

  running() {
    const check = this.indicators.check('process');
    return this.shuttingDown ? check.down({ message: 'shutting down' }) : check.up();
  }

  /** Scanners (circuits open in any process, this one's last reload): reported, never failing readiness. */
  async scanners() {
    const scanners = this.registry.snapshot().scanners;
    const marked = await this.health.openAmong(scanners.map((s) => s.instanceId));
    const open = scanners.filter((s) => marked.has(s.instanceId)).map((s) => s.instanceId);
    const reload = this.registry.lastReload();
    return this.indicators.check('scanners').up({
      total: scanners.length,
      enabled: scanners.filter((s) => s.enabled).length,
      circuit_open: open,
      ...(reload ? { last_reload: { ...reload, at: reload.at.toISOString() } } : {}),
    });
  }

  async redisUp() {
    const check = this.indicators.check('redis');
    return (await this.redis.ping()) ? check.up() : check.down({ message: 'Redis does not answer PING' });
  }

  async storageWritable() {
    const check = this.indicators.check('storage');
    const dir = this.config.storage.dataDir;
    const probe = join(dir, `.health-${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(probe, 'ok');
      await unlink(probe);
      return check.up();
    } catch (err) {
      return check.down({ message: `task storage is not writable: ${(err as Error).message}` });
    }
  }

  consumersRunning() {
    const check = this.indicators.check('consumers');
    if (!this.config.consumersEnabled)
      return check.up({ mode: this.config.mode, consumers: 'none in api mode' });
    return this.consumers?.isRunning
      ? check.up()
      : check.down({ message: this.consumers?.description ?? 'absent' });
  }
}
