// The stages the benchmark compares, each as `run(count) -> Promise<{ sum, busy }>`, so a case can run
// in this process (timings, side by side) or in a child process of its own (peak RSS).
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { limitedMap } from '@lac/core';
import { limitedTransform } from '../dist/index.js';

const require = createRequire(import.meta.url);
const parallelTransform = require('parallel-transform');
const through2Concurrent = require('through2-concurrent');

function* numbers(count) {
  for (let i = 0; i < count; i++) yield i;
}

/** The two mapper kinds: one that resolves at once, one that waits 1 ms; `busy` sums the time mappers ran. */
export function makeMapper(kind) {
  const state = { busy: 0 };
  if (kind === 'instant') return { state, mapper: async (x) => x * 2 };
  return {
    state,
    mapper: async (x) => {
      const start = performance.now();
      await sleep(1);
      state.busy += performance.now() - start;
      return x * 2;
    },
  };
}

function sink(state) {
  return new Writable({
    objectMode: true,
    write(x, _encoding, callback) {
      state.sum += x;
      // The peak-heap measurement samples here: these pipelines never let a timer run until they end.
      if (state.sample !== undefined && (++state.count & 0x3fff) === 0) state.sample();
      callback();
    },
  });
}

/** stage name -> (limit, mapper) -> (count, state) -> Promise<void> */
export const stages = {
  'sync Transform (floor)': () => (count, state) =>
    pipeline(
      Readable.from(numbers(count)),
      new Transform({ objectMode: true, transform: (x, _e, cb) => cb(null, x * 2) }),
      sink(state),
    ),
  limitedTransform: (limit, mapper) => (count, state) =>
    pipeline(Readable.from(numbers(count)), limitedTransform(limit, mapper), sink(state)),
  'Readable.map': (limit, mapper) => (count, state) =>
    pipeline(Readable.from(numbers(count)).map(mapper, { concurrency: limit }), sink(state)),
  'parallel-transform': (limit, mapper) => (count, state) =>
    pipeline(
      Readable.from(numbers(count)),
      parallelTransform(limit, (x, cb) => mapper(x).then((v) => cb(null, v), cb)),
      sink(state),
    ),
  'through2-concurrent': (limit, mapper) => (count, state) =>
    pipeline(
      Readable.from(numbers(count)),
      through2Concurrent.obj({ maxConcurrency: limit }, (x, _e, cb) => mapper(x).then((v) => cb(null, v), cb)),
      sink(state),
    ),
  '@lac/core limitedMap (no streams)': (limit, mapper) => async (count, state) => {
    for await (const v of limitedMap(numbers(count), limit, mapper)) state.sum += v;
  },
};

/** Runs one case and returns its wall and CPU time, whether every item arrived, and the mappers' busy time. */
export async function runCase(stageName, limit, kind, count, sample = undefined) {
  const { state: mapperState, mapper } = makeMapper(kind);
  const state = { sum: 0, count: 0, sample };
  const run = stages[stageName](limit, mapper);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await run(count, state);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    isComplete: state.sum === count * (count - 1),
    busy: mapperState.busy,
  };
}
