import { hostname } from 'node:os';
import { EnvReader } from '@app/core';
import { workerProfileFolder } from './profile-folder';
import { loadWorkerConfig } from './worker.config';

describe('workerProfileFolder', () => {
  it('gives each host its own folder under SESSION_DATA_DIR', () => {
    const a = workerProfileFolder('/data/sessions', 'worker-3f2a9c');
    const b = workerProfileFolder('/data/sessions', 'worker-77be01');
    expect(a).toBe('/data/sessions/worker-3f2a9c');
    expect(b).toBe('/data/sessions/worker-77be01');
    expect(a).not.toBe(b);
  });

  it('gives workers of one host the same folder', () => {
    expect(workerProfileFolder('/data/sessions', 'box')).toBe(
      workerProfileFolder('/data/sessions', 'box'),
    );
  });

  it('never lets a hostname escape the volume', () => {
    expect(workerProfileFolder('/data/sessions', '../etc')).toBe('/data/sessions/__etc');
    expect(workerProfileFolder('/data/sessions', '..')).toBe('/data/sessions/_');
    expect(workerProfileFolder('/data/sessions', '')).toBe('/data/sessions/localhost');
    expect(workerProfileFolder('/data/sessions', 'a/b')).toBe('/data/sessions/a_b');
  });
});

describe('worker config: SESSION_DATA_DIR', () => {
  it("puts this worker's profiles in its host's folder under SESSION_DATA_DIR", () => {
    const config = loadWorkerConfig(new EnvReader({ SESSION_DATA_DIR: '/data/sessions' }));
    expect(config.wwebjs.sessionDataDir).toBe(`/data/sessions/${hostname()}`);
  });
});
