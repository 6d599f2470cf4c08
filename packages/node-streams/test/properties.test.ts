import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limitedReadable, limitedTransform } from '@lac/node-streams';
import { collector, concurrencyProbe, measureHeld, settle, unhandledRejectionsDuring } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);

/** Delays in setImmediate turns, cycled over the items: random mapper durations and sink speeds without the wall clock. */
const delays = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 });
const cycle =
  (values: number[]) =>
  (i: number): number =>
    values[i % values.length]!;

const runConfig = fc.record({
  count: fc.integer({ min: 0, max: 150 }),
  limit: fc.integer({ min: 1, max: 8 }),
  buffer: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
  highWaterMark: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  ordered: fc.boolean(),
  mapperDelays: delays,
  sinkDelays: delays,
  sinkHighWaterMark: fc.integer({ min: 1, max: 4 }),
});

describe('limitedTransform properties', () => {
  it('every item comes out exactly once, at most limit mappers run, the stage holds at most its bound, and ordered keeps input order', async () => {
    await fc.assert(
      fc.asyncProperty(
        runConfig,
        async ({ count, limit, buffer, highWaterMark, ordered, mapperDelays, sinkDelays, sinkHighWaterMark }) => {
          const probe = concurrencyProbe();
          const mapperDelay = cycle(mapperDelays);
          const stage = limitedTransform(
            limit,
            async (x: number) => {
              probe.enter();
              await settle(mapperDelay(x));
              probe.leave();
              return x * 2;
            },
            {
              ordered,
              ...(buffer === undefined ? {} : { buffer }),
              ...(highWaterMark === undefined ? {} : { highWaterMark }),
            },
          );
          const sink = collector<number>(cycle(sinkDelays), sinkHighWaterMark);
          const held = measureHeld(stage, sink);
          await pipeline(Readable.from(range(count)), stage, sink);

          const expected = range(count).map((x) => x * 2);
          expect(sorted(sink.items)).toEqual(expected);
          if (ordered) expect(sink.items).toEqual(expected);
          expect(probe.maxRunning).toBeLessThanOrEqual(limit);
          // Each side holds up to its highWaterMark; one of 0 still passes one item at a time.
          const bound =
            limit +
            (buffer ?? limit) +
            Math.max(stage.readableHighWaterMark, 1) +
            Math.max(stage.writableHighWaterMark, 1);
          expect(held.maxHeld).toBeLessThanOrEqual(bound);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a failing mapper rejects the pipeline with its own error, and nothing is left unhandled', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        delays,
        fc.boolean(),
        async (count, limit, failSeed, mapperDelays, ordered) => {
          const failAt = failSeed % count;
          const error = new Error(`item ${failAt}`);
          const mapperDelay = cycle(mapperDelays);
          let rejection: unknown;
          const unhandled = await unhandledRejectionsDuring(async () => {
            const stage = limitedTransform(
              limit,
              async (x: number) => {
                await settle(mapperDelay(x));
                if (x === failAt) throw error;
                return x;
              },
              { ordered },
            );
            rejection = await pipeline(Readable.from(range(count)), stage, collector()).catch((e: unknown) => e);
          });
          expect(rejection).toBe(error);
          expect(unhandled).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('limitedReadable properties', () => {
  it('every task result comes out exactly once, at most limit tasks run, ordered keeps source order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 150 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        delays,
        delays,
        async (count, limit, ordered, taskDelays, sinkDelays) => {
          const probe = concurrencyProbe();
          const taskDelay = cycle(taskDelays);
          const tasks = range(count).map((i) => async () => {
            probe.enter();
            await settle(taskDelay(i));
            probe.leave();
            return i;
          });
          const sink = collector<number>(cycle(sinkDelays), 1);
          await pipeline(limitedReadable(tasks, limit, { ordered }), sink);
          expect(sorted(sink.items)).toEqual(range(count));
          if (ordered) expect(sink.items).toEqual(range(count));
          expect(probe.maxRunning).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 40 },
    );
  });
});
