import { Module } from '@nestjs/common';
import { ScansModule } from '../../scans/scans.module';
import { SecurityModule } from '../../security/security.module';
import { McpController } from './mcp.controller';
import { McpGateway } from './mcp-gateway.service';
import { McpServerBuilder } from './mcp-server.builder';

/** The MCP gateway (SPEC §5): /mcp (both protocol eras), /sse and /messages, over the scan services. */
@Module({
  imports: [ScansModule, SecurityModule],
  controllers: [McpController],
  providers: [McpServerBuilder, McpGateway],
  exports: [McpGateway],
})
export class McpModule {}
