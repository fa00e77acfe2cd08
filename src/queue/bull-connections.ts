import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';

/**
 * The Redis connections Bull opens through our createClient. Bull closes only connections it created
 * itself, so these are closed here once the queues are closed (application shutdown runs after them).
 */
@Injectable()
export class BullConnections implements OnApplicationShutdown {
  private readonly open = new Map<Redis, string>();

  create(type: string, options: RedisOptions): Redis {
    const client = new Redis(options);
    // Kept after an 'end' too: a local pause ends the blocking client and connects it again.
    this.open.set(client, type);
    return client;
  }

  async onApplicationShutdown(): Promise<void> {
    const live = [...this.open].filter(([client]) => client.status !== 'end');
    // A blocking client may sit in BRPOPLPUSH, where QUIT would wait behind it.
    await Promise.all(
      live.map(([client, type]) =>
        type === 'bclient' ? client.disconnect() : client.quit().catch(() => client.disconnect()),
      ),
    );
    this.open.clear();
  }
}

@Module({ providers: [BullConnections], exports: [BullConnections] })
export class BullConnectionsModule {}
