import { Controller, Get, Param, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { BasicChallengeFilter } from './basic-challenge.filter';
import { DashboardAssets, type DashboardAsset } from './dashboard-assets';
import { PAGE_HEADERS } from './page-headers';

/**
 * The operator dashboard: `GET /` and the few files it loads. Not public: the global API key
 * guard decides on these matched routes like on any other (HTTP basic, any user, a key as
 * password), so no spelling of a path reaches a file without credentials. The page's data comes
 * from the API (`/api/sessions`, `/api/events`, …) with the credentials the browser resends.
 */
@ApiExcludeController()
@UseFilters(BasicChallengeFilter)
@Controller()
export class DashboardController {
  constructor(private readonly assets: DashboardAssets) {}

  @Get()
  page(@Res() reply: FastifyReply): FastifyReply {
    return send(reply, this.assets.page);
  }

  @Get('dashboard/:file')
  file(@Param('file') name: string, @Res() reply: FastifyReply): FastifyReply {
    const asset = this.assets.asset(name);
    if (!asset) throw ApiError.notFound('NOT_FOUND', 'No such dashboard file');
    return send(reply, asset);
  }
}

function send(reply: FastifyReply, asset: DashboardAsset): FastifyReply {
  return reply
    .status(200)
    .headers(PAGE_HEADERS)
    .header('Content-Type', asset.contentType)
    .send(asset.body);
}
