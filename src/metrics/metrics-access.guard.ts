import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ApiKeyGuard } from '../security/api-key.guard';

/** /metrics follows the API keys unless METRICS_PUBLIC=true (SPEC §8). */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(
    private readonly config: AppConfig,
    private readonly apiKeys: ApiKeyGuard,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    return this.config.security.metricsPublic || this.apiKeys.canActivate(context);
  }
}
