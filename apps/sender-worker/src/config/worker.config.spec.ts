import { EnvReader } from '@app/core';
import { loadWorkerConfig } from './worker.config';

describe('worker config: Chromium flags', () => {
  it('reads CHROMIUM_ARGS and CHROMIUM_EXTRA_ARGS verbatim (parsed where the browser starts)', () => {
    const config = loadWorkerConfig(
      new EnvReader({
        CHROMIUM_ARGS: '--foo --bar',
        CHROMIUM_EXTRA_ARGS: '--proxy-server=http://127.0.0.1:4100',
      }),
    );
    expect(config.wwebjs.chromiumArgsOverride).toBe('--foo --bar');
    expect(config.wwebjs.chromiumExtraArgs).toBe('--proxy-server=http://127.0.0.1:4100');
  });

  it('leaves both unset when the variables are missing or empty', () => {
    for (const env of [{}, { CHROMIUM_ARGS: '', CHROMIUM_EXTRA_ARGS: '' }]) {
      const config = loadWorkerConfig(new EnvReader(env));
      expect(config.wwebjs.chromiumArgsOverride).toBeUndefined();
      expect(config.wwebjs.chromiumExtraArgs).toBeUndefined();
    }
  });
});
