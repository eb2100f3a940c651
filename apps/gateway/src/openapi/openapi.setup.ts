import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { buildOpenApiDocument } from './openapi-document';

/** Where the UI is served; the document is at `<path>-json`. Both public (CONTRACT.md). */
export const DOCS_PATH = '/docs';
export const DOCS_JSON_PATH = `${DOCS_PATH}-json`;

/**
 * Serves the Swagger UI at `/docs` (its assets from the installed swagger-ui-dist: works
 * offline) and the document at `/docs-json`. SwaggerModule registers these as plain Fastify
 * routes, outside Nest's router: the API key guard never sees them (they are public by
 * contract), and every controller route keeps its guard. The document is built here, at start,
 * so a broken decorator stops the gateway instead of the first request for the docs.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, buildOpenApiDocument(app), {
    raw: ['json'],
    customSiteTitle: 'wa-gateway API',
    swaggerOptions: {
      // Swagger UI would otherwise send the document to validator.swagger.io for its badge.
      validatorUrl: null,
      displayOperationId: true,
    },
  });
}
