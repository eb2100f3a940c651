/** The process's command connection (ioredis `Redis`), with the role its app asked for. */
export const REDIS = Symbol('REDIS');

/**
 * The connection `BullModule.forRootAsync` gives the fixed queues and their `@Processor`s
 * (ioredis `Redis`, or a Cluster client; `worker` role, connects on first use).
 */
export const BULLMQ_CONNECTION = Symbol('BULLMQ_CONNECTION');

/** The process's root pino logger (service name bound; every session line binds its id). */
export const LOGGER = Symbol('LOGGER');
