import { Controller, Delete, Get, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { ApiKeyGuard } from '../../security/api-key.guard';
import { OriginGuard } from '../../security/origin.guard';
import { ClientRateLimitGuard } from '../../security/rate-limit';
import { McpGateway, McpHttpRequest } from './mcp-gateway.service';

/**
 * The MCP endpoints. Nest guards answer 403 (foreign Origin), 401 (no or wrong API key) and 429 before the
 * SDK transports see the request; the raw request and response are then handed to the SDK.
 */
@ApiExcludeController()
@Controller()
@UseGuards(OriginGuard, ApiKeyGuard, ClientRateLimitGuard)
export class McpController {
  constructor(private readonly gateway: McpGateway) {}

  @Post('mcp')
  post(@Req() req: McpHttpRequest, @Res() res: ServerResponse): Promise<void> {
    return this.gateway.handleStreamable(req, res);
  }

  @Get('mcp')
  stream(@Req() req: McpHttpRequest, @Res() res: ServerResponse): Promise<void> {
    return this.gateway.handleStreamable(req, res);
  }

  @Delete('mcp')
  end(@Req() req: McpHttpRequest, @Res() res: ServerResponse): Promise<void> {
    return this.gateway.handleStreamable(req, res);
  }

  @Get('sse')
  openSse(@Req() req: McpHttpRequest, @Res() res: ServerResponse): Promise<void> {
    return this.gateway.openSse(req, res);
  }

  @Post('messages')
  message(@Req() req: McpHttpRequest, @Res() res: ServerResponse): Promise<void> {
    return this.gateway.postSseMessage(req, res);
  }
}
