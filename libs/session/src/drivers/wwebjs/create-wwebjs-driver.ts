import { join } from 'node:path';
import type { DriverContext, WwebjsSettings } from '../../session-driver';
import { chromiumArgs } from './browser/chromium-profile';
import { WwebjsDriver } from './wwebjs.driver';
import { RedisAuthStore } from './auth/redis-auth-store';
import { GuardedRemoteAuth } from './auth/guarded-remote-auth';
import { MEDIA_DEFAULTS } from '../../media';

/** Backups of a RemoteAuth profile: at least once a minute (whatsapp-web.js's minimum). */
const BACKUP_SYNC_INTERVAL_MS = 60000;

/** Builds the wwebjs driver of one session from the worker's settings. */
export function createWwebjsDriver(ctx: DriverContext, settings: WwebjsSettings): WwebjsDriver {
  const clientId = ctx.sessionId;
  const dataPath = settings.sessionDataDir;
  let authStrategy: () => unknown;
  let profileDir: string;
  if (settings.sessionStore === 'redis') {
    profileDir = join(dataPath, `RemoteAuth-${clientId}`);
    authStrategy = () =>
      new GuardedRemoteAuth({
        clientId,
        dataPath,
        store: new RedisAuthStore(ctx.redis, ctx.keys, ctx.sessionId, {
          dataPath,
          fence: ctx.fence,
        }),
        backupSyncIntervalMs: BACKUP_SYNC_INTERVAL_MS,
        onBackupError: (err: unknown) => ctx.logger.warn({ err }, 'auth backup to Redis failed'),
      });
  } else {
    profileDir = join(dataPath, `session-${clientId}`);
    authStrategy = () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { LocalAuth } = require('whatsapp-web.js') as {
        LocalAuth: new (o: unknown) => unknown;
      };
      return new LocalAuth({ clientId, dataPath });
    };
  }
  return new WwebjsDriver(ctx, {
    chromiumPath: settings.chromiumPath,
    chromiumArgs: chromiumArgs({
      override: settings.chromiumArgsOverride,
      extra: settings.chromiumExtraArgs,
      runningAsRoot: process.getuid?.() === 0,
    }),
    profileDir,
    // One cache per worker folder, shared by its sessions (it is keyed by WhatsApp Web version).
    webVersionCacheDir: join(dataPath, '.wwebjs_cache'),
    authStrategy,
    media: ctx.media ?? MEDIA_DEFAULTS,
    startTimeoutMs: settings.startTimeoutMs,
    clientFactory: settings.clientFactory,
  });
}
