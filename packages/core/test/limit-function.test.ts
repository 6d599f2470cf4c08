import { describe, expect, expectTypeOf, it } from 'vitest';
import { AsyncLocalStorage } from 'node:async_hooks';
import { limitFunction, type LimitedFunction } from '@lac/core';
import { type Deferred, deferred, flush } from './helpers.js';

/** A function whose calls the test settles by hand; records the calls and the peak running. */
function manual() {
  const calls: unknown[][] = [];
  const handles: Deferred<string>[] = [];
  let running = 0;
  let peak = 0;
  const fn = (...args: unknown[]): Promise<string> => {
    calls.push(args);
    running++;
    peak = Math.max(peak, running);
    const handle = deferred<string>();
    handles.push(handle);
    handle.promise.then(
      () => running--,
      () => running--,
    );
    return handle.promise;
  };
  return {
    fn,
    calls,
    handles,
    get peak() {
      return peak;
    },
  };
}

describe('limitFunction behaves as p-limit’s limitFunction', () => {
  it('never runs more than concurrency calls, starts them in call order, and passes arguments and this', async () => {
    const m = manual();
    const limited = limitFunction(m.fn, { concurrency: 2 });
    const results = [0, 1, 2, 3, 4].map((id) => limited(id, `x${id}`));
    expect(limited.activeCount).toBe(2);
    expect(limited.pendingCount).toBe(3);
    await flush();
    expect(m.calls).toEqual([
      [0, 'x0'],
      [1, 'x1'],
    ]);
    m.handles[1]!.resolve('one');
    await flush();
    expect(m.calls.map(([id]) => id)).toEqual([0, 1, 2]);
    for (const id of [0, 2]) m.handles[id]!.resolve(`r${id}`);
    await flush();
    for (const id of [3, 4]) m.handles[id]!.resolve(`r${id}`);
    expect(await Promise.all(results)).toEqual(['r0', 'one', 'r2', 'r3', 'r4']);
    expect(m.peak).toBe(2);
    expect(limited.activeCount).toBe(0);

    const object = {
      name: 'obj',
      get: limitFunction(function (this: { name: string }) {
        return this.name;
      }, 1),
    };
    expect(await object.get()).toBe('obj');
  });

  it('accepts a number as p-limit does, rejects with the same error whether fn throws or rejects', async () => {
    const error = new Error('boom');
    const throwing = limitFunction((kind: string) => {
      if (kind === 'throw') throw error;
      return Promise.reject(error);
    }, 1);
    await expect(throwing('throw')).rejects.toBe(error);
    await expect(throwing('reject')).rejects.toBe(error);
    expect(throwing.activeCount).toBe(0);
  });

  it('concurrency is settable: raising it starts queued calls at once', async () => {
    const m = manual();
    const limited = limitFunction(m.fn, { concurrency: 1 });
    const results = [0, 1, 2].map((id) => limited(id));
    await flush();
    expect(m.calls).toHaveLength(1);
    limited.concurrency = 3;
    expect(limited.concurrency).toBe(3);
    await flush();
    expect(m.calls).toHaveLength(3);
    for (const handle of m.handles) handle.resolve('ok');
    expect(await Promise.all(results)).toEqual(['ok', 'ok', 'ok']);
    expect(() => {
      limited.concurrency = 0;
    }).toThrow(new TypeError('Expected `concurrency` to be an integer >= 1 or Infinity, got `0` (number)'));
  });

  it('clearQueue drops the waiting calls; with rejectOnClear they reject with an AbortError', async () => {
    const m = manual();
    const limited = limitFunction(m.fn, { concurrency: 1, rejectOnClear: true });
    const running = limited(0);
    const cleared = [limited(1), limited(2)];
    expect(limited.pendingCount).toBe(2);
    limited.clearQueue();
    expect(limited.pendingCount).toBe(0);
    for (const promise of cleared) await expect(promise).rejects.toMatchObject({ name: 'AbortError' });
    await flush();
    m.handles[0]!.resolve('done');
    expect(await running).toBe('done');
    expect(m.calls).toEqual([[0]]);
  });

  it('each call runs in the async context of its own call', async () => {
    const store = new AsyncLocalStorage<string>();
    const m = manual();
    const seen: (string | undefined)[] = [];
    const limited = limitFunction((id: number) => {
      seen.push(store.getStore());
      return m.fn(id);
    }, 1);
    const results = ['A', 'B', 'C'].map((name, id) => store.run(name, () => limited(id)));
    for (let id = 0; id < 3; id++) {
      await flush();
      m.handles[id]!.resolve(String(id));
    }
    expect(await Promise.all(results)).toEqual(['0', '1', '2']);
    expect(seen).toEqual(['A', 'B', 'C']);
  });

  it('rejects bad input with a TypeError naming the argument, value and type', () => {
    expect(() => limitFunction('nope' as never, 1)).toThrow(
      new TypeError('Expected `fn` to be a function, got `"nope"` (string)'),
    );
    expect(() => limitFunction(() => 1, { concurrency: 1.5 })).toThrow(
      new TypeError('Expected `concurrency` to be an integer >= 1 or Infinity, got `1.5` (number)'),
    );
    expect(() => limitFunction(() => 1, undefined as never)).toThrow(TypeError);
  });

  it('types: the limited function keeps the arguments and returns a promise of the awaited result', () => {
    const limited = limitFunction(async (a: number, b: string) => `${a}${b}`, { concurrency: 1 });
    expectTypeOf(limited).toEqualTypeOf<LimitedFunction<[a: number, b: string], string>>();
    expectTypeOf(limited).parameters.toEqualTypeOf<[a: number, b: string]>();
    expectTypeOf(limited).returns.toEqualTypeOf<Promise<string>>();
  });
});
