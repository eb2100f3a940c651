import { recycleCause } from './browser-recycle-policy';

describe('recycleCause', () => {
  const launchedAt = 1_000_000;

  it('recycles a browser above BROWSER_MEMORY_LIMIT_MB, not at it', () => {
    const policy = { memoryLimitMb: 500 };
    expect(recycleCause(policy, { memoryMb: 500, launchedAt }, launchedAt)).toBeNull();
    const cause = recycleCause(policy, { memoryMb: 501, launchedAt }, launchedAt);
    expect(cause).toMatchObject({ code: 'MEMORY_LIMIT', failure: 'session' });
    expect(cause!.message).toContain('501 MB, above BROWSER_MEMORY_LIMIT_MB (500)');
  });

  it('recycles a browser older than BROWSER_RECYCLE_HOURS', () => {
    const policy = { recycleAfterMs: 3600_000 };
    expect(recycleCause(policy, { launchedAt }, launchedAt + 3600_000)).toBeNull();
    expect(recycleCause(policy, { launchedAt }, launchedAt + 3600_001)).toMatchObject({
      code: 'SCHEDULED_RECYCLE',
    });
  });

  it('names memory first when both are due', () => {
    const policy = { memoryLimitMb: 100, recycleAfterMs: 1 };
    expect(recycleCause(policy, { memoryMb: 200, launchedAt }, launchedAt + 10)).toMatchObject({
      code: 'MEMORY_LIMIT',
    });
  });

  it('never recycles with both limits at 0 (the default), or without a memory reading', () => {
    expect(recycleCause({}, { memoryMb: 100_000, launchedAt: 0 }, Number.MAX_SAFE_INTEGER)).toBe(
      null,
    );
    expect(recycleCause({ memoryLimitMb: 1 }, { launchedAt }, launchedAt)).toBeNull();
  });
});
