import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';
import { IdempotencyStore, RedisIdempotencyStore } from './idempotency.store';

/** Idempotency keys on Redis. Needs the global AppConfig and RedisService. */
@Module({
  providers: [{ provide: IdempotencyStore, useClass: RedisIdempotencyStore }, IdempotencyService],
  exports: [IdempotencyStore, IdempotencyService],
})
export class IdempotencyModule {}
