import { Module } from '@nestjs/common';
import { EventBacklog } from './event-backlog';
import { EventStreamHub } from './event-stream-hub';
import { EventStreamService } from './event-stream.service';
import { EventsController } from './events.controller';

/** `GET /api/events`: the live event stream, one Redis reader per gateway, fanned out in memory. */
@Module({
  controllers: [EventsController],
  providers: [EventStreamHub, EventBacklog, EventStreamService],
})
export class EventsModule {}
