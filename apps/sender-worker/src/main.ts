import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';
import { ConfigError } from '@app/queue';
import { SenderWorkerModule } from './sender-worker.module';
import { loadWorkerConfig } from './config/worker.config';
import { LOGGER } from './logger';

async function bootstrap(): Promise<void> {
  try {
    loadWorkerConfig(); // fail fast, before anything connects
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const app = await NestFactory.createApplicationContext(SenderWorkerModule, {
    logger: ['error', 'warn'],
  });
  const logger = app.get<Logger>(LOGGER);

  // whatsapp-web.js can reject inside its own listeners (e.g. the re-inject on framenavigated,
  // wwebjs#3107): such a rejection belongs to one session and must not take the process (and
  // every other session) down. The driver that owns the page reports the loss itself.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection contained');
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: handing sessions over');
    // Redis may be down, and then nothing can be handed over: do not hang past the grace
    // period (an orchestrator would SIGKILL us anyway); the leases expire by themselves.
    const config = loadWorkerConfig();
    setTimeout(() => {
      logger.error('shutdown did not finish in time (is Redis reachable?); exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 5000).unref();
    app
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.init();
}

void bootstrap();
