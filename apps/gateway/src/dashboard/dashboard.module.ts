import { Module } from '@nestjs/common';
import { DashboardAssets } from './dashboard-assets';
import { DashboardController } from './dashboard.controller';

/** The operator dashboard at `/`: a static page that runs on the API and its event stream. */
@Module({
  controllers: [DashboardController],
  providers: [{ provide: DashboardAssets, useFactory: () => new DashboardAssets() }],
})
export class DashboardModule {}
