import { Module } from '@nestjs/common';
import { ControlModule } from '../control/control.module';
import { IncomingController } from './incoming.controller';
import { IncomingService } from './incoming.service';

/** Incoming messages: the simulator's `…/simulator/incoming` and `…/incoming/:waMessageId/media`. */
@Module({
  imports: [ControlModule],
  controllers: [IncomingController],
  providers: [IncomingService],
})
export class IncomingModule {}
