import type { DriverContext, SessionDriver } from '../session-driver';
import { SessionDriverError, SessionErrorCode } from '../session.errors';
import { DEFAULT_SIMULATOR_OPTIONS, type SessionConfig } from '../session.types';
import { SimulatorDriver } from './simulator/simulator.driver';

/**
 * Makes the driver a session's configuration names. The real driver is loaded on first use
 * only, so processes that never drive a browser (simulator-only workers and tests) never load
 * puppeteer.
 */
export function createSessionDriver(config: SessionConfig, ctx: DriverContext): SessionDriver {
  switch (config.driver) {
    case 'simulator':
      return new SimulatorDriver(ctx, {
        ...DEFAULT_SIMULATOR_OPTIONS,
        ...(config.simulator ?? {}),
      });
    case 'wwebjs': {
      if (!ctx.wwebjs) {
        throw new SessionDriverError(
          SessionErrorCode.DriverUnavailable,
          'permanent',
          'The wwebjs driver is not configured in this process',
        );
      }
      const { createWwebjsDriver } =
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('./wwebjs/create-wwebjs-driver') as typeof import('./wwebjs/create-wwebjs-driver');
      return createWwebjsDriver(ctx, ctx.wwebjs);
    }
  }
}
