import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { EVENT_MODELS } from './event.schemas';
import { ErrorResponse } from './error-response';
import { packageVersion } from './package-version';
import { toOpenApi31 } from './openapi-31';
import { markPublicOperations, operationId } from './public-operations';
import { webhookPathItems } from './webhooks';

const DESCRIPTION = `A durable WhatsApp gateway: messages are stored in Redis before the gateway answers \`202\`, sent exactly once by sender workers, and their fate reported by webhooks and a live event stream.

- **Authentication**: every route needs an API key (\`X-Api-Key\`, or HTTP basic credentials with any user name and the key as password) unless it says otherwise. See README "API summary".
- **Errors** are always \`{"error": {"code": "UPPER_SNAKE", "message": "…"}}\` (schema \`ErrorResponse\`); branch on \`code\`.
- **Events**: the \`webhooks\` section describes what the gateway POSTs to your endpoint, signed as Standard Webhooks do. See README "Receiving events".
- **Typed clients**: generate one from this document (\`/docs-json\`). See README "OpenAPI and typed clients".`;

/** Tags, in the order the UI shows them. */
const TAGS: [string, string][] = [
  ['Sessions', 'One session is one WhatsApp account'],
  ['Messages', 'Send, look up and cancel messages'],
  ['Simulator', 'The sandbox driver: WhatsApp without a phone'],
  ['Operations', "The seed gateway's operations endpoints, and the workers"],
  ['Probes', 'Liveness and readiness for orchestrators; no key'],
  ['Webhooks', 'Endpoints, and deliveries given up on (dead letters) and their replay'],
  [
    'Events',
    'What the gateway tells you: webhooks (see the `webhooks` section) and the live stream',
  ],
];

/**
 * The OpenAPI 3.1 document of the gateway: every route of every controller (as decorated), the
 * error shape, both ways to present the key, and the webhook payloads.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('wa-gateway')
    .setDescription(DESCRIPTION)
    .setVersion(packageVersion())
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    // Relative: the gateway that serves the document, wherever it is reached.
    .addServer('/', 'This gateway')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'One of `API_KEYS`' },
      'apiKey',
    )
    .addBasicAuth(
      {
        type: 'http',
        scheme: 'basic',
        description: 'Any user name; one of `API_KEYS` as the password (what a browser sends)',
      },
      'basicAuth',
    )
    // Either one: two requirement objects are alternatives.
    .addSecurityRequirements('apiKey')
    .addSecurityRequirements('basicAuth');
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const document = SwaggerModule.createDocument(
    app,
    { ...builder.build(), webhooks: webhookPathItems() },
    {
      extraModels: [ErrorResponse, ...EVENT_MODELS],
      operationIdFactory: operationId,
      autoTagControllers: false,
    },
  );
  markPublicOperations(app, document);
  describeSuccesses(document);
  toOpenApi31(document);
  return document;
}

const SUCCESS_TEXT: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };

/** A success answer decorated without a description gets its status text (it is required). */
function describeSuccesses(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item) as unknown[]) {
      const responses = (op as { responses?: Record<string, { description?: string }> } | null)
        ?.responses;
      for (const [status, response] of Object.entries(responses ?? {})) {
        if (!response.description && SUCCESS_TEXT[status])
          response.description = SUCCESS_TEXT[status];
      }
    }
  }
}
