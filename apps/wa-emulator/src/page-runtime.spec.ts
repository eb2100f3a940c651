import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { findPageDir } from './emulator-server';

/**
 * page/runtime.js in node, with the little of a browser window it touches at load
 * (localStorage, crypto): what `window.require` gives for a module the emulator does not define.
 */
function loadRuntime(): { require: (name: string) => any } {
  const storage = new Map<string, string>();
  const window: Record<string, unknown> = {};
  runInNewContext(readFileSync(join(findPageDir(), 'runtime.js'), 'utf8'), {
    window,
    localStorage: {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => storage.set(k, v),
    },
    crypto: { randomUUID: () => 'device-1' },
    console,
  });
  return window as unknown as { require: (name: string) => any };
}

describe('page runtime stand-ins', () => {
  const { require } = loadRuntime();

  it('throws `not emulated: <path>` for a call at any depth', () => {
    expect(() => require('WAWebNope').fn()).toThrow('not emulated: WAWebNope.fn');
    expect(() => require('WAWebNope').Foo.bar()).toThrow('not emulated: WAWebNope.Foo.bar');
    expect(() => require('WAWebNope').a.b.c.d(1, 2)).toThrow('not emulated: WAWebNope.a.b.c.d');
  });

  it('throws `not emulated: M()` for the module itself called, and for `new`', () => {
    expect(() => require('WAWebNope')('x')).toThrow('not emulated: WAWebNope()');
    const Nope = require('WAWebNope').Thing;
    expect(() => new Nope()).toThrow('not emulated: new WAWebNope.Thing()');
  });

  it('keeps writes, at any depth, and gives the same stand-in for the same path', () => {
    const module = require('WAWebGating');
    module.isEnabled = () => false;
    module.Nested.flag = 3;
    expect(module.isEnabled()).toBe(false);
    expect(require('WAWebGating').Nested.flag).toBe(3);
    expect('isEnabled' in module).toBe(true);
    expect(require('WAWebGating').Foo).toBe(module.Foo);
  });

  it('is neither a thenable nor JSON-able, and turns into a string without throwing', async () => {
    const module = require('WAWebNope');
    expect(module.then).toBeUndefined();
    expect(module.Foo.toJSON).toBeUndefined();
    await expect(Promise.resolve(module.Foo)).resolves.toBe(module.Foo);
    expect(String(module.Foo)).toBe('[not emulated: WAWebNope.Foo]');
    expect(`${module}`).toBe('[not emulated: WAWebNope]');
  });
});
