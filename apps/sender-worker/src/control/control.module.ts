import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module';
import { OwnershipModule } from '../ownership/ownership.module';
import { ControlListener } from './control.listener';

/** Answers the gateway's commands for the sessions this worker owns. */
@Module({
  imports: [OutboundModule, OwnershipModule],
  providers: [ControlListener],
})
export class ControlModule {}
