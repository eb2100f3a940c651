import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';
import { MessagesController } from './messages.controller';
import { MessagesService } from './messages.service';

/** `/api/sessions/:id/messages` and `/api/messages/:id`: accept, read and cancel messages. */
@Module({
  controllers: [MessagesController],
  providers: [MessagesService, IdempotencyService],
})
export class MessagesModule {}
