import { BullAdapter } from '@bull-board/api/bullAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule, BullBoardModuleOptions } from '@bull-board/nestjs';
import { Module } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { QueueName } from '../../queue/queue-names';
import { parseApiKeys } from '../../security/api-key.guard';
import { queueBoardAuth } from './queue-board-auth';

/** Where the queue dashboard is served. */
export const QUEUE_BOARD_ROUTE = '/admin/queues';

/**
 * The queue dashboard (Bull Board) at /admin/queues, behind the API keys; api and all modes only
 * (ApiModule imports it). It shows the scan-steps queue of every worker, since the queue lives in Redis.
 */
@Module({
  imports: [
    BullBoardModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        route: QUEUE_BOARD_ROUTE,
        // @bull-board/express 9.10.1 pins its own @bull-board/api 9.10.1, whose types differ from 9.10.2's
        // by name only; the adapter contract is the same.
        adapter: ExpressAdapter as unknown as BullBoardModuleOptions['adapter'],
        middleware: queueBoardAuth(parseApiKeys(config.security.apiKeys)),
        boardOptions: { uiConfig: { boardTitle: 'nessus-mcp-gateway' } },
      }),
    }),
    BullBoardModule.forFeature({ name: QueueName.ScanSteps, adapter: BullAdapter }),
  ],
})
export class AdminModule {}
