/** Per-key concurrency (`perKey(key, n, { lookahead })`), with deferred tasks and fc.scheduler(). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { limitedAsCompleted, limitedMap, perKey } from '@lac/core';
import { assertProperty, deferred, drain, flush, trackedSource, type Deferred } from './helpers.js';

type Item = { id: number; key: string };

/** Items `{ id, key }` whose mapper waits for a deferred the test settles. */
function keyed(keys: string[]) {
  const started: number[] = [];
  const handles = new Map<number, Deferred<number>>();
  const mapper = (item: { id: number; key: string }) => {
    started.push(item.id);
    const handle = deferred<number>();
    handles.set(item.id, handle);
    return handle.promise;
  };
  return { items: keys.map((key, id) => ({ id, key })), started, handles, mapper };
}

describe('options.perKey: perKey(key, n, { lookahead })', () => {
  it('at most perKey per key: an item whose key is full waits, the others pass it', async () => {
    const { items, started, handles, mapper } = keyed(['a', 'a', 'a', 'b', 'c']);
    const iterator = limitedMap(items, 3, mapper, { perKey: perKey((item: Item) => item.key, 1) });
    const first = iterator.next();
    await flush();
    expect(started).toEqual([0, 3, 4]);
    expect(iterator.stats.waiting).toBe(2);
    handles.get(0)!.resolve(0);
    expect(await first).toEqual({ value: 0, done: false });
    await flush();
    expect(started).toEqual([0, 3, 4, 1]);
    for (const id of [1, 3, 4]) handles.get(id)!.resolve(id);
    await flush();
    expect(started).toEqual([0, 3, 4, 1, 2]);
    handles.get(2)!.resolve(2);
    expect((await drain(iterator)).values.sort()).toEqual([1, 2, 3, 4]);
  });

  it('the look-ahead is bounded: when `lookahead` items wait, the source is not pulled', async () => {
    const { source, state } = trackedSource(() => () => new Promise<number>(() => {}));
    const iterator = limitedAsCompleted(source, 4, { perKey: perKey(() => 'same', 1, { lookahead: 2 }) });
    void iterator.next();
    await flush();
    expect(state.pulled).toBe(3);
    expect(iterator.stats).toMatchObject({ running: 1, waiting: 2 });
    await iterator.return();
    expect(state.isReturned).toBe(true);
  });

  it('perKey as a function gives each key its own limit', async () => {
    const { items, started, mapper } = keyed(['big', 'big', 'big', 'small', 'small']);
    const iterator = limitedMap(items, 10, mapper, {
      perKey: perKey(
        (item: Item) => item.key,
        (key) => (key === 'big' ? 2 : 1),
      ),
    });
    void iterator.next();
    await flush();
    expect(started).toEqual([0, 1, 3]);
    await iterator.return();
  });

  it('a key function that throws fails the run with its error', async () => {
    const iterator = limitedMap([1, 2], 2, (n) => n, {
      perKey: perKey(() => {
        throw new Error('no key');
      }),
    });
    expect((await drain(iterator)).error).toEqual(new Error('no key'));
  });

  it.each([
    [[5], /Expected `key` to be a function, got `5` \(number\)/],
    [
      [(): number => 1, 0],
      /Expected `perKey` to be an integer >= 1, Infinity or a function of the key, got `0` \(number\)/,
    ],
    [
      [(): number => 1, 1, { lookahead: 0 }],
      /Expected `options.lookahead` to be an integer >= 1 or Infinity, got `0` \(number\)/,
    ],
    [[(): number => 1, 1, 5], /Expected `options` to be an object \{ lookahead \}, got `5` \(number\)/],
  ])('perKey(%j) throws a TypeError naming the argument', (args, message) => {
    const make = () => perKey(...(args as Parameters<typeof perKey>));
    expect(make).toThrow(TypeError);
    expect(make).toThrow(message);
  });

  it.each([
    [{ perKey: 2 }, /Expected `options.perKey` to be perKey\(\(item\) => key, perKey\), got `2` \(number\)/],
    [
      { key: (): number => 1, perKey: 2 },
      /Expected `options.perKey` to be perKey\(key, perKey, \{ lookahead \}\) instead of `options.key`/,
    ],
    [{ lookahead: 2 }, /instead of `options.key` and `options.lookahead`/],
  ])('the options of 0.1 (%j) get a TypeError that says what to write', (options, message) => {
    expect(() => limitedMap([], 1, (n) => n, options as never)).toThrow(TypeError);
    expect(() => limitedMap([], 1, (n) => n, options as never)).toThrow(message);
  });

  it('property: per-key and total bounds hold, the look-ahead stays bounded, every item is delivered once', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 16 }),
        fc.boolean(),
        fc.scheduler(),
        async (limit, perKeyLimit, lookahead, keys, ordered, s) => {
          const running = new Map<string, number>();
          let total = 0;
          let pulled = 0;
          let started = 0;
          const violations: string[] = [];
          function* source() {
            for (let id = 0; id < keys.length; id++) {
              pulled++;
              yield { id, key: keys[id]! };
            }
          }
          const mapper = async (item: { id: number; key: string }) => {
            started++;
            total++;
            running.set(item.key, (running.get(item.key) ?? 0) + 1);
            if (running.get(item.key)! > perKeyLimit) violations.push(`key ${item.key} over ${perKeyLimit}`);
            if (total > limit) violations.push(`total over ${limit}`);
            // Pulled but not started: waiting for a key, at most `lookahead` (the one just pulled may start).
            if (pulled - started > lookahead) violations.push(`${pulled - started} waiting, lookahead ${lookahead}`);
            await s.schedule(Promise.resolve(), `item ${item.id}`);
            total--;
            running.set(item.key, running.get(item.key)! - 1);
            return item.id;
          };
          const iterator = limitedMap(source(), limit, mapper, {
            perKey: perKey((item: Item) => item.key, perKeyLimit, { lookahead }),
            ordered,
          });
          let isDone = false;
          const consume = drain(iterator).then((result) => {
            isDone = true;
            return result;
          });
          for (let round = 0; round < 100 && !isDone; round++) await s.waitIdle();
          const { values, isThrown } = await consume;
          expect(isThrown).toBe(false);
          expect(violations).toEqual([]);
          expect([...values].sort((a, b) => a - b)).toEqual(keys.map((_, id) => id));
          if (ordered) expect(values).toEqual(keys.map((_, id) => id));
          return true;
        },
      ),
      150,
    );
  });

  it.each([500, 2500])(
    '%s keys, most idle at any time (idle keys are kept a while, then swept): the per-key bound holds and every item is delivered once',
    async (keyCount) => {
      const count = 6000;
      const running = new Map<number, number>();
      const violations: string[] = [];
      const perKeyCalls = new Map<number, number>();
      const items = Array.from({ length: count }, (_, id) => ({ id, key: (id * 7) % keyCount }));
      const { values: results, isThrown } = await drain(
        limitedMap(
          items,
          8,
          async (item) => {
            const now = (running.get(item.key) ?? 0) + 1;
            running.set(item.key, now);
            if (now > (item.key % 2 === 0 ? 1 : 2)) violations.push(`key ${item.key}: ${now} running`);
            await Promise.resolve();
            running.set(item.key, running.get(item.key)! - 1);
            return item.id;
          },
          {
            perKey: perKey(
              (item: { id: number; key: number }) => item.key,
              (key) => {
                perKeyCalls.set(key as number, (perKeyCalls.get(key as number) ?? 0) + 1);
                return (key as number) % 2 === 0 ? 1 : 2;
              },
            ),
          },
        ),
      );
      expect(isThrown).toBe(false);
      expect(violations).toEqual([]);
      expect([...results].sort((a, b) => a - b)).toEqual(items.map((item) => item.id));
      expect(perKeyCalls.size).toBe(keyCount);
      // perKey is asked when a key's entry is made: 500 idle keys are all kept (made once each); 2,500 are swept and made again.
      const calls = [...perKeyCalls.values()].reduce((a, b) => a + b, 0);
      if (keyCount === 500) expect(calls).toBe(500);
      else expect(calls).toBeGreaterThan(keyCount);
    },
  );
});
