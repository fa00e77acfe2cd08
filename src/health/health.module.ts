import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ScannersModule } from '../scanners/scanners.module';
import { HealthController } from './health.controller';
import { ReadinessHealth } from './readiness.health';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty', logger: false }), ScannersModule],
  controllers: [HealthController],
  providers: [ReadinessHealth],
})
export class HealthModule {}
