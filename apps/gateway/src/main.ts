import 'reflect-metadata';
import cluster from 'node:cluster';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ValidationPipe } from '@nestjs/common';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import {
  ConfigError,
  LOGGER,
  REDIS,
  redisDurabilityWarnings,
  startProcessMetrics,
  waitForReady,
} from '@app/core';
import { GatewayModule } from './gateway.module';
import { loadGatewayConfig, type GatewayConfig } from './config/gateway.config';
import { validationException } from './common/validation';
import { installJsonBodyParser } from './common/json-body';
import { renderError } from './common/error-shape';
import { REQUEST_ID_HEADER, requestIdOf } from './common/request-id';
import { setupOpenApi } from './openapi/openapi.setup';
import { installHttpMetrics } from './metrics/http.metrics';
import { inGatewayCluster, runPrimary, serveClusterMetrics } from './cluster/gateway-cluster';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** GATEWAY_WORKERS > 1: how long a process waits for Redis before it listens anyway. */
const CLUSTER_READY_WAIT_MS = 10000;

function readConfig(): GatewayConfig {
  try {
    return loadGatewayConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

export async function createGateway(config: GatewayConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // The request id every log line of the request carries, echoed as X-Request-Id.
    genReqId: (req: IncomingMessage) => requestIdOf(req.headers[REQUEST_ID_HEADER]),
    // Errors Fastify answers itself, before any route (a path with malformed percent-encoding):
    // in the contract's error shape like every other answer.
    frameworkErrors: (err: Error, _req: FastifyRequest, reply: FastifyReply) => {
      const rendered = renderError(err);
      void reply.status(rendered.status).headers(rendered.headers).send(rendered.body);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(config),
    adapter,
    {
      bufferLogs: true,
      // Our JSON parser instead of Nest's (installJsonBodyParser: charset and depth first).
      bodyParser: false,
    },
  );
  app.useLogger(app.get(PinoNestLogger));
  const fastify = app.getHttpAdapter().getInstance();
  installJsonBodyParser(fastify);
  installHttpMetrics(fastify);
  fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    void reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });
  // A body that is not JSON gets 415, whatever parser Fastify or Nest registered for it.
  fastify.addHook('preValidation', async (req: FastifyRequest) => {
    if (!BODY_METHODS.has(req.method)) return;
    const type = req.headers['content-type'];
    const hasBody =
      req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
    if (
      (hasBody || req.headers['transfer-encoding']) &&
      !(type ?? '').toLowerCase().includes('application/json')
    ) {
      throw Object.assign(new Error('Send JSON with Content-Type: application/json'), {
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        statusCode: 415,
      });
    }
  });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: validationException,
    }),
  );
  setupOpenApi(app);
  app.enableShutdownHooks();
  return app;
}

async function bootstrap(): Promise<void> {
  const config = readConfig();
  if (config.workers > 1 && cluster.isPrimary) {
    // The primary serves nothing itself: it forks the gateway processes, which share PORT.
    // The key is made once here, so every process accepts the same one.
    runPrimary(config.workers, { API_KEYS: config.apiKeys.join(',') }, (line) =>
      process.stderr.write(`${line}\n`),
    );
    printGeneratedKey(config);
    return;
  }
  serveClusterMetrics();
  startProcessMetrics();
  const app = await createGateway(config);
  const logger = app.get<Logger>(LOGGER);
  if (inGatewayCluster()) {
    // One of several processes on the port: join it once Redis answers, so connections handed
    // to this process (a fresh or replaced one) are not answered 503 while the others could
    // serve them. Bounded: with Redis down it joins anyway and answers 503 like the others.
    await waitForReady(app.get<Redis>(REDIS), CLUSTER_READY_WAIT_MS).catch(() => undefined);
  }
  await app.listen(config.port, config.host);
  logger.info({ port: config.port, queuePrefix: config.queuePrefix }, 'gateway listening');
  void redisDurabilityWarnings(app.get<Redis>(REDIS)).then((warnings) => {
    for (const w of warnings) logger.warn({ redis: 'durability' }, w);
  });
  printGeneratedKey(config);
}

function printGeneratedKey(config: GatewayConfig): void {
  if (config.apiKeyGenerated) {
    // Printed once, on purpose, for local use; never logged as part of any request.
    process.stdout.write(`\nNo API_KEYS set: generated one for this run: ${config.apiKeys[0]}\n\n`);
  }
}

if (require.main === module) void bootstrap();
