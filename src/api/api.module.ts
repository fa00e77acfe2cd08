import { Module } from '@nestjs/common';
import { ScansModule } from '../scans/scans.module';
import { SecurityModule } from '../security/security.module';
import { AdminModule } from './admin/admin.module';
import { McpModule } from './mcp/mcp.module';
import { InfrastructureController } from './rest/infrastructure.controller';
import { ScansController } from './rest/scans.controller';

/**
 * The HTTP entry points (api and all modes): the REST API under /api/v1 and the MCP gateway, thin layers
 * over the same scan services, and the queue dashboard. Only AppModule imports this, and only when the
 * HTTP API is enabled.
 */
@Module({
  imports: [ScansModule, SecurityModule, McpModule, AdminModule],
  controllers: [ScansController, InfrastructureController],
})
export class ApiModule {}
