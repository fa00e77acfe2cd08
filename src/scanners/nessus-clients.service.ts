import { Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { NotFoundError } from '../common/errors';
import { MetricsService } from '../metrics/metrics.service';
import { NessusClient } from './nessus/nessus.client';
import { sameConnection, ScannerEntry } from './registry-snapshot';
import { ScannerRegistry } from './scanner-registry.service';

// Requests already running on a replaced client finish before its sockets are closed.
const RETIRE_AFTER_MS = 120_000;

/**
 * One NessusClient per scanner instance, built from its scanners.yaml entry and rebuilt when a reload
 * changes that entry's connection or credentials. A scanner removed by a reload keeps its last client,
 * so scans already running there finish normally.
 */
@Injectable()
export class NessusClients implements OnApplicationShutdown {
  private readonly log = new Logger(NessusClients.name);
  private readonly cache = new Map<string, { entry: ScannerEntry; client: NessusClient }>();
  private readonly retiring = new Set<NodeJS.Timeout>();

  constructor(
    private readonly registry: ScannerRegistry,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /** The client of a scanner (throws NotFoundError for an instance this process never loaded). */
  client(instanceId: string): NessusClient {
    const entry = this.registry.entry(instanceId);
    if (!entry) throw new NotFoundError(`unknown scanner instance "${instanceId}"`);
    const cached = this.cache.get(instanceId);
    if (cached && sameConnection(cached.entry, entry)) return cached.client;
    if (cached) this.retire(cached.client);
    const client = new NessusClient({
      instanceId: entry.instanceId,
      url: entry.url,
      username: entry.username,
      password: entry.password,
      accessKey: entry.accessKey,
      secretKey: entry.secretKey,
      apiToken: entry.apiToken,
      tlsVerify: entry.tlsVerify,
      caFile: entry.caFile,
      logger: { warn: (m) => this.log.warn(m) },
      onCall: (operation, outcome) => this.metrics?.nessusCall(entry.instanceId, operation, outcome),
    });
    this.cache.set(instanceId, { entry, client });
    return client;
  }

  private retire(client: NessusClient): void {
    const timer = setTimeout(() => {
      this.retiring.delete(timer);
      client.close();
    }, RETIRE_AFTER_MS);
    timer.unref();
    this.retiring.add(timer);
  }

  onApplicationShutdown(): void {
    for (const t of this.retiring) clearTimeout(t);
    this.retiring.clear();
    for (const { client } of this.cache.values()) client.close();
    this.cache.clear();
  }
}
