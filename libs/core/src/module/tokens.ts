/** The process's command connection (ioredis `Redis`), with the role its app asked for. */
export const REDIS = Symbol('REDIS');

/** The process's root pino logger (service name bound; every session line binds its id). */
export const LOGGER = Symbol('LOGGER');
