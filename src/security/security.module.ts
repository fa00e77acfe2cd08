import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { ApiKeyGuard } from './api-key.guard';
import { OriginGuard } from './origin.guard';
import { ClientRateLimitGuard, throttlerOptions } from './rate-limit';
import { TargetPolicy } from './target-policy';

/**
 * The guards of SPEC §8 and the configured TargetPolicy. Controllers use
 * `@UseGuards(ApiKeyGuard, ClientRateLimitGuard)` (plus OriginGuard on the MCP endpoints), in that order,
 * so the rate limit is counted per API key.
 */
@Module({
  imports: [ThrottlerModule.forRootAsync({ inject: [AppConfig], useFactory: throttlerOptions })],
  providers: [
    ApiKeyGuard,
    OriginGuard,
    ClientRateLimitGuard,
    {
      provide: TargetPolicy,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new TargetPolicy({
          allow: config.security.targetAllow,
          deny: config.security.targetDeny,
          maxAddresses: config.security.maxTargetAddresses,
        }),
    },
  ],
  exports: [ApiKeyGuard, OriginGuard, ClientRateLimitGuard, TargetPolicy],
})
export class SecurityModule {}
