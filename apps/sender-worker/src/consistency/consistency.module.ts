import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module';
import { OwnershipModule } from '../ownership/ownership.module';
import { ConsistencyCheckService } from './consistency-check.service';

/** The periodic check that settles records of owned sessions whose job is gone or finished. */
@Module({
  imports: [OutboundModule, OwnershipModule],
  providers: [ConsistencyCheckService],
})
export class ConsistencyModule {}
