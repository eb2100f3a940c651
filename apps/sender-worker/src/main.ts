import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';
import { ConfigError, LOGGER } from '@app/core';
import { SenderWorkerModule } from './sender-worker.module';
import { loadWorkerConfig, type WorkerConfig } from './config/worker.config';
import { containUnhandledRejections } from './process-guards';

async function bootstrap(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig(); // fail fast, before anything connects
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const app = await NestFactory.createApplicationContext(SenderWorkerModule.forRoot(config), {
    logger: ['error', 'warn'],
  });
  const logger = app.get<Logger>(LOGGER);

  containUnhandledRejections(logger);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: handing sessions over');
    // Redis may be down, and then nothing can be handed over: do not hang past the grace
    // period (an orchestrator would SIGKILL us anyway); the leases expire by themselves.
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
