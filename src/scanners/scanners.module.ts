import { Module } from '@nestjs/common';
import { CapacityLeases } from './capacity-leases.store';
import { CircuitBreakers } from './circuit-breakers';
import { NessusClients } from './nessus-clients.service';
import { ScannerHealth } from './scanner-health';
import { ScannerRegistry } from './scanner-registry.service';
import { ScannersService } from './scanners.service';

/**
 * Scanner pools (SCANNER_CONFIG, reloaded on SIGHUP), capacity leases in Redis, per-scanner circuit
 * breakers (their open circuits shared through Redis) and Nessus clients. Needs the global ConfigModule
 * (AppConfig) and RedisModule (RedisService).
 */
@Module({
  providers: [
    CapacityLeases,
    CircuitBreakers,
    ScannerHealth,
    ScannerRegistry,
    ScannersService,
    NessusClients,
  ],
  exports: [CapacityLeases, CircuitBreakers, ScannerHealth, ScannerRegistry, ScannersService, NessusClients],
})
export class ScannersModule {}
