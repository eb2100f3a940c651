import { join } from 'node:path';

/**
 * Typed access to the Docker helpers in scripts/lib/docker (plain CommonJS, shared with the
 * scripts): the Debian packages, the private dockerd and the local base images.
 */
const LIB = join(__dirname, '..', '..', 'scripts', 'lib', 'docker');

export interface Engine {
  /** DOCKER_HOST of the engine, for child processes. */
  env: { DOCKER_HOST: string };
  /** Stops a private engine; does nothing for one named by WA_DOCKER_HOST. */
  stop(): Promise<void>;
}

export interface BaseImages {
  node: string;
  redis: string;
  prometheus: string;
  debian: string;
}

type Log = (line: string) => void;

/* eslint-disable @typescript-eslint/no-require-imports */
const hostPackages = require(join(LIB, 'host-packages.js')) as {
  ensureHostPackages(log?: Log): void;
};
const dockerd = require(join(LIB, 'private-dockerd.js')) as {
  useDockerd(opts: { log?: Log }): Promise<Engine>;
  dockerCli(): string;
};
const bases = require(join(LIB, 'base-images.js')) as {
  ensureBaseImages(env: NodeJS.ProcessEnv, log?: Log): BaseImages;
};
/* eslint-enable @typescript-eslint/no-require-imports */

export const ensureHostPackages = (log: Log) => hostPackages.ensureHostPackages(log);
export const useDockerd = (log: Log) => dockerd.useDockerd({ log });
export const dockerCli = () => dockerd.dockerCli();
export const ensureBaseImages = (env: NodeJS.ProcessEnv, log: Log) =>
  bases.ensureBaseImages(env, log);
