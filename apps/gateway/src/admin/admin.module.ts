import { Module, type DynamicModule } from '@nestjs/common';
import { BullBoardModule } from '@bull-board/nestjs';
import { FastifyAdapter } from '@bull-board/fastify';
import type { GatewayConfig } from '../config/gateway.config';
import { ApiKeyGuard } from '../common/api-key.guard';
import { boardActionHook } from './board-actions';
import { BoardAuth } from './board-auth';
import { BoardQueues } from './board-queues';
import { BOARD_ROUTE } from './board-route';

/**
 * Bull Board at `/admin/queues`: every session's queue, the webhooks and maintenance queues,
 * behind basic auth (`BoardAuth`), its actions limited to those the records follow
 * (`board-actions.ts`; none with BULL_BOARD_READ_ONLY). Not part of the API document: its
 * routes are bull-board's own (hidden from Swagger by their `schema.hide`).
 */
@Module({})
export class AdminModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: AdminModule,
      imports: [
        BullBoardModule.forRoot({
          route: BOARD_ROUTE,
          adapter: FastifyAdapter,
          boardOptions: {
            uiConfig: { boardTitle: 'wa-gateway queues' },
            handlerHooks: { before: boardActionHook(config.bullBoardReadOnly) },
          },
        }),
      ],
      providers: [ApiKeyGuard, BoardAuth, BoardQueues],
    };
  }
}
