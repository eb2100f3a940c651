import { Module } from '@nestjs/common';
import { SessionOwnershipService } from './session-ownership.service';
import { SupervisionModule } from '../supervision/supervision.module';

/** Leases: which sessions this worker runs, hand-overs, stops and the janitor of deleted ones. */
@Module({
  imports: [SupervisionModule],
  providers: [SessionOwnershipService],
  exports: [SessionOwnershipService],
})
export class OwnershipModule {}
