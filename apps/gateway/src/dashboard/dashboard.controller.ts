import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { BrowserPage } from '../common/browser-page.decorator';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { DashboardAssets, PAGE_FILES, type DashboardAsset } from './dashboard-assets';
import { PAGE_HEADERS } from './page-headers';

/**
 * The operator dashboard: `GET /` and the few files it loads. Not public: the global API key
 * guard decides on these matched routes like on any other (HTTP basic, any user, a key as
 * password), so no spelling of a path reaches a file without credentials. The page's data comes
 * from the API (`/api/sessions`, `/api/events`, …) with the credentials the browser resends.
 */
@ApiTags('Dashboard')
@ApiErrors(401, 429)
@BrowserPage()
@Controller()
export class DashboardController {
  constructor(private readonly assets: DashboardAssets) {}

  @Get()
  @ApiOperation({
    summary: 'Operator dashboard (HTML page)',
    description:
      'The web page for operators: sessions, QR codes, failures, actions. For browsers: ' +
      'HTTP basic credentials (any user, an API key as password); a 401 always carries ' +
      '`WWW-Authenticate: Basic`, so the browser asks for them.',
  })
  @ApiOkResponse({
    description: 'The page',
    content: { 'text/html': { schema: { type: 'string' } } },
  })
  page(@Res() reply: FastifyReply): FastifyReply {
    return send(reply, this.assets.page);
  }

  @Get('dashboard/:file')
  @ApiOperation({ summary: 'A file of the dashboard page (script, style sheet, icon)' })
  @ApiParam({ name: 'file', enum: Object.keys(PAGE_FILES) })
  @ApiOkResponse({
    description: 'The file',
    content: Object.fromEntries(
      Object.values(PAGE_FILES).map((type) => [type, { schema: { type: 'string' } }]),
    ),
  })
  @ApiErrors(401, 429, { status: 404, code: 'NOT_FOUND', message: 'No such dashboard file' })
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
