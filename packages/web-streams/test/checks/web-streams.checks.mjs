// Behaviour checks for @lac/web-streams. Plain ESM with no test framework: vitest runs them on Node,
// and the same file is bundled and run on Deno, Bun and in Chromium (see ../runtimes.test.ts).
import { LimitedTransformStream, limitedReadableStream } from '@lac/web-streams';
import {
  atMost,
  collect,
  collector,
  deepEqual,
  deferred,
  equal,
  ok,
  rejects,
  settle,
  streamOf,
  throwsTypeError,
  track,
} from '@lac/test-tools/assert';

const range = (n) => Array.from({ length: n }, (_, i) => i);

/** A mapper whose calls wait until the test settles them; records concurrency and signals. */
function controlledMapper() {
  const calls = [];
  let running = 0;
  let peak = 0;
  const mapper = (item, context) => {
    const gate = deferred();
    running++;
    peak = Math.max(peak, running);
    calls.push({ item, context, signal: context.signal, gate });
    return gate.promise.finally(() => {
      running--;
    });
  };
  return {
    mapper,
    calls,
    get running() {
      return running;
    },
    get peak() {
      return peak;
    },
  };
}

/** A task that waits until its signal aborts, then rejects with the reason. */
function hangingTask(started) {
  return ({ signal }) => {
    started.push({ signal });
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };
}

/** A mapper that waits until its signal aborts, then rejects with the reason. */
function hangingMapper(started) {
  return (item, { signal }) => {
    started.push({ item, signal });
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };
}

export const checks = [
  {
    name: 'LimitedTransformStream: pipeThrough maps every chunk and closes',
    async run() {
      const { items, writable } = collector();
      await streamOf(range(50))
        .pipeThrough(new LimitedTransformStream(4, async (x) => x * 2))
        .pipeTo(writable);
      deepEqual(
        [...items].sort((a, b) => a - b),
        range(50).map((x) => x * 2),
      );
    },
  },
  {
    name: 'LimitedTransformStream: accepts synchronous mappers and context.index follows input order',
    async run() {
      const { items, writable } = collector();
      await streamOf(['a', 'b', 'c', 'd'])
        .pipeThrough(new LimitedTransformStream(2, (x, { index }) => `${x}${index}`, { ordered: true }))
        .pipeTo(writable);
      deepEqual(items, ['a0', 'b1', 'c2', 'd3']);
    },
  },
  {
    name: 'LimitedTransformStream: results come in completion order by default',
    async run() {
      const control = controlledMapper();
      const stage = new LimitedTransformStream(4, control.mapper);
      const out = collect(streamOf([0, 1, 2, 3]).pipeThrough(stage));
      await settle();
      equal(control.calls.length, 4, 'all four mappers started');
      for (const order of [2, 0, 3, 1]) control.calls[order].gate.resolve(`r${order}`);
      deepEqual(await out, ['r2', 'r0', 'r3', 'r1']);
    },
  },
  {
    name: 'LimitedTransformStream: ordered: true enqueues in input order',
    async run() {
      const control = controlledMapper();
      const out = collect(
        streamOf([0, 1, 2, 3]).pipeThrough(new LimitedTransformStream(4, control.mapper, { ordered: true })),
      );
      await settle();
      for (const order of [3, 2, 1, 0]) control.calls[order].gate.resolve(`r${order}`);
      deepEqual(await out, ['r0', 'r1', 'r2', 'r3']);
    },
  },
  {
    name: 'LimitedTransformStream: never runs more than limit mappers at once, and reaches the limit',
    async run() {
      const control = controlledMapper();
      const out = collect(streamOf(range(20)).pipeThrough(new LimitedTransformStream(3, control.mapper)));
      let released = 0;
      while (released < 20) {
        await settle(1);
        atMost(control.running, 3, 'mappers running at once');
        const next = control.calls[released];
        if (next === undefined) continue;
        next.gate.resolve(next.item);
        released++;
      }
      const results = await out;
      equal(results.length, 20);
      equal(control.peak, 3, 'peak concurrency');
    },
  },
  {
    name: 'LimitedTransformStream: with a stalled reader, mappers stop at limit + buffer + readable queue and writes stop resolving',
    async run() {
      let started = 0;
      const limit = 2;
      const buffer = 1;
      const stage = new LimitedTransformStream(limit, (x) => (started++, x), {
        buffer,
        readableStrategy: { highWaterMark: 1 },
      });
      const writer = stage.writable.getWriter();
      const writes = range(20).map((x) => track(writer.write(x)));
      await settle(5);
      ok(started >= limit, `it runs ahead of the reader (started ${started})`);
      atMost(started, limit + buffer + 1, 'mappers started with nobody reading');
      ok(!writes[19].isSettled, 'the last write is still pending');
      ok(writer.desiredSize <= 0, 'the writable side reports backpressure');
      const startedWhileStalled = started;
      await settle(5);
      equal(started, startedWhileStalled, 'no mapper starts while the reader is stalled');
      const reader = stage.readable.getReader();
      const results = [];
      const closing = writer.close();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        results.push(value);
      }
      await closing;
      equal(started, 20);
      deepEqual(
        results.sort((a, b) => a - b),
        range(20),
      );
      ok(
        writes.every((write) => write.isFulfilled),
        'every write resolved once read',
      );
    },
  },
  {
    name: 'LimitedTransformStream: a slow sink holds back the whole pipeline (bounded mapper calls)',
    async run() {
      let started = 0;
      const sinkGate = deferred();
      const sink = new WritableStream({ write: () => sinkGate.promise });
      const pipe = streamOf(range(1000))
        .pipeThrough(new LimitedTransformStream(4, (x) => (started++, Promise.resolve(x))))
        .pipeTo(sink);
      await settle(10);
      atMost(started, 20, 'mappers started before the sink took its first chunk');
      ok(started >= 4, `the stage ran ahead of the sink (started ${started})`);
      sinkGate.resolve();
      await pipe;
      equal(started, 1000);
    },
  },
  {
    name: 'LimitedTransformStream: the readable closes only after every in-flight mapper settled and was enqueued',
    async run() {
      const control = controlledMapper();
      const stage = new LimitedTransformStream(3, control.mapper);
      const writer = stage.writable.getWriter();
      for (const x of [0, 1, 2]) void writer.write(x);
      const closing = track(writer.close());
      const reader = stage.readable.getReader();
      const readClosed = track(reader.closed);
      const first = reader.read();
      await settle();
      equal(control.calls.length, 3);
      control.calls[1].gate.resolve('b');
      deepEqual(await first, { value: 'b', done: false });
      control.calls[0].gate.resolve('a');
      deepEqual(await reader.read(), { value: 'a', done: false });
      const third = reader.read();
      await settle();
      ok(!closing.isSettled, 'writer.close() waits for the last mapper');
      ok(!readClosed.isSettled, 'the readable is still open');
      control.calls[2].gate.resolve('c');
      deepEqual(await third, { value: 'c', done: false });
      deepEqual(await reader.read(), { value: undefined, done: true });
      await settle();
      ok(closing.isFulfilled, 'writer.close() resolved');
    },
  },
  {
    name: 'LimitedTransformStream: readable.cancel(reason) aborts in-flight mappers with that reason and starts nothing new',
    async run() {
      const started = [];
      const stage = new LimitedTransformStream(2, hangingMapper(started));
      const writer = stage.writable.getWriter();
      const writes = range(6).map((x) => writer.write(x).catch((reason) => reason));
      const reader = stage.readable.getReader();
      const read = reader.read();
      await settle();
      equal(started.length, 2);
      const reason = new Error('stop reading');
      await reader.cancel(reason);
      deepEqual(await read, { value: undefined, done: true });
      for (const { signal } of started) {
        ok(signal.aborted, 'in-flight signal aborted');
        equal(signal.reason, reason, 'abort reason');
      }
      await settle();
      equal(started.length, 2, 'nothing new started');
      equal(await writes[5], reason, 'a pending write rejects with the reason');
      equal(await rejects(writer.closed), reason, 'the writable side errors with the reason');
    },
  },
  {
    name: 'LimitedTransformStream: writable.abort(reason) aborts in-flight mappers, even with a write held back, and errors the readable',
    async run() {
      const started = [];
      const stage = new LimitedTransformStream(1, hangingMapper(started), { buffer: 0 });
      const writer = stage.writable.getWriter();
      const writes = range(4).map((x) => writer.write(x).catch((reason) => reason));
      const reader = stage.readable.getReader();
      const read = reader.read();
      await settle();
      equal(started.length, 1);
      const reason = new Error('stop writing');
      await writer.abort(reason);
      equal(started[0].signal.reason, reason, 'in-flight mapper aborted with the reason');
      equal(await rejects(read), reason, 'the pending read rejects with the reason');
      equal(await writes[1], reason, 'the held-back write rejects with the reason');
      await settle();
      equal(started.length, 1, 'nothing new started');
    },
  },
  {
    name: 'LimitedTransformStream: options.signal aborts in-flight mappers with its reason and errors both sides',
    async run() {
      const started = [];
      const controller = new AbortController();
      const stage = new LimitedTransformStream(2, hangingMapper(started), { signal: controller.signal });
      const pipe = streamOf(range(10)).pipeThrough(stage).pipeTo(new WritableStream());
      await settle();
      equal(started.length, 2);
      const reason = new Error('user abort');
      controller.abort(reason);
      equal(await rejects(pipe), reason, 'the pipeline rejects with the reason');
      for (const { signal } of started) equal(signal.reason, reason);
      equal(await rejects(stage.writable.getWriter().closed), reason, 'the writable side errored with the reason');
      await settle();
      equal(started.length, 2, 'nothing new started');
    },
  },
  {
    name: 'LimitedTransformStream: an already-aborted options.signal errors both sides and starts nothing',
    async run() {
      let started = 0;
      const reason = new Error('too late');
      const stage = new LimitedTransformStream(2, () => started++, { signal: AbortSignal.abort(reason) });
      equal(await rejects(stage.readable.getReader().read()), reason);
      equal(await rejects(stage.writable.getWriter().write(1)), reason);
      await settle();
      equal(started, 0);
    },
  },
  {
    name: 'LimitedTransformStream: a mapper rejection errors both sides with that same error and aborts the others',
    async run() {
      const control = controlledMapper();
      let sourceCancelReason;
      const source = new ReadableStream({
        start(controller) {
          for (const x of range(5)) controller.enqueue(x);
        },
        cancel(reason) {
          sourceCancelReason = reason;
        },
      });
      const stage = new LimitedTransformStream(3, control.mapper);
      const pipe = source.pipeThrough(stage).pipeTo(new WritableStream());
      await settle();
      equal(control.calls.length, 3);
      const boom = new Error('boom');
      control.calls[1].gate.reject(boom);
      equal(await rejects(pipe), boom, 'the pipeline rejects with the mapper error');
      await settle();
      equal(sourceCancelReason, boom, 'the upstream source was cancelled with the mapper error');
      ok(
        control.calls[0].signal.aborted && control.calls[2].signal.aborted,
        'the other in-flight mappers were aborted',
      );
      equal(control.calls.length, 3, 'nothing new started');
    },
  },
  {
    name: 'LimitedTransformStream: a mapper that throws synchronously errors both sides with that error',
    async run() {
      const boom = new TypeError('bad chunk');
      const stage = new LimitedTransformStream(2, (x) => {
        if (x === 2) throw boom;
        return x;
      });
      const writer = stage.writable.getWriter();
      for (const x of range(4)) writer.write(x).catch(() => {});
      const reader = stage.readable.getReader();
      let error;
      for (;;) {
        try {
          const { done } = await reader.read();
          if (done) break;
        } catch (reason) {
          error = reason;
          break;
        }
      }
      equal(error, boom, 'the readable errors with the thrown error');
      equal(await rejects(writer.closed), boom, 'the writable errors with the thrown error');
    },
  },
  {
    name: 'LimitedTransformStream: a mapper error reaches the writable side at once, even with nobody reading',
    async run() {
      const boom = new Error('failed while stalled');
      const stage = new LimitedTransformStream(2, (x) => (x === 3 ? Promise.reject(boom) : Promise.resolve(x)), {
        readableStrategy: { highWaterMark: 8 },
      });
      const writer = stage.writable.getWriter();
      for (const x of range(6)) writer.write(x).catch(() => {});
      equal(await rejects(writer.closed), boom, 'the writable errors without a read');
      equal(
        await rejects(stage.readable.getReader().read()),
        boom,
        'the readable errored too (queued results are dropped)',
      );
    },
  },
  {
    name: "LimitedTransformStream: with a full readable side and nobody reading, a mapper's failure errors the stage at once: signals abort, nothing new starts, upstream is released",
    async run() {
      const boom = new Error('late boom');
      const failGate = deferred();
      const signals = [];
      let calls = 0;
      let sourceCancelReason;
      let pulled = 0;
      const source = new ReadableStream({
        pull(controller) {
          controller.enqueue(pulled++);
        },
        cancel(reason) {
          sourceCancelReason = reason;
        },
      });
      const stage = new LimitedTransformStream(
        3,
        (x, { signal }) => {
          calls++;
          if (x === 0) return failGate.promise.then(() => Promise.reject(boom));
          if (x === 1) {
            signals.push(signal);
            return new Promise(() => {});
          }
          return x;
        },
        { readableStrategy: { highWaterMark: 2 } },
      );
      // Nobody reads: the readable queue and the scheduler's window fill up.
      const readable = source.pipeThrough(stage);
      await settle(10);
      const callsWhenFull = calls;
      atMost(callsWhenFull, 20, 'mappers started while stalled');
      failGate.resolve();
      await settle(5);
      equal(sourceCancelReason, boom, 'the upstream source was cancelled with the mapper error');
      equal(await rejects(readable.getReader().read()), boom, 'the readable side errored with the mapper error');
      equal(signals.length, 1);
      ok(signals[0].aborted, 'the in-flight mapper was aborted');
      await settle();
      equal(calls, callsWhenFull, 'nothing new started');
    },
  },
  {
    name: 'LimitedTransformStream: a non-Error rejection (undefined, null, 0, a string, an object) errors the pipeline with that same value',
    async run() {
      for (const value of [undefined, null, 0, '', 'plain string', { code: 42 }]) {
        const stage = new LimitedTransformStream(2, (x) => (x === 1 ? Promise.reject(value) : x));
        const pipe = streamOf(range(5)).pipeThrough(stage).pipeTo(new WritableStream());
        let rejection = 'did not reject';
        await pipe.catch((reason) => {
          rejection = reason;
        });
        equal(rejection, value, `rejection with ${String(value)}`);
      }
    },
  },
  {
    name: 'LimitedTransformStream: with a full readable side and nobody reading, a timeout errors the stage at once with a TimeoutError and releases upstream',
    async run() {
      const cancelled = deferred();
      let pulled = 0;
      const source = new ReadableStream({
        pull(controller) {
          controller.enqueue(pulled++);
        },
        cancel(reason) {
          cancelled.resolve(reason);
        },
      });
      const signals = [];
      const stage = new LimitedTransformStream(
        2,
        (x, { signal }) => {
          if (x !== 0) return x;
          signals.push(signal);
          return new Promise(() => {});
        },
        { timeout: 5, readableStrategy: { highWaterMark: 1 } },
      );
      const readable = source.pipeThrough(stage);
      // Nobody reads; the upstream is cancelled once the timeout fails the stage (the harness's hang guard catches a stall).
      const reason = await cancelled.promise;
      equal(reason?.name, 'TimeoutError', 'upstream cancelled with the TimeoutError');
      equal(signals[0].reason, reason, 'the slow mapper aborted with it');
      equal(await rejects(readable.getReader().read()), reason, 'the readable side errored with it');
    },
  },
  {
    name: 'LimitedTransformStream: options.timeout errors both sides with a TimeoutError and aborts the slow mapper',
    async run() {
      const started = [];
      const stage = new LimitedTransformStream(1, hangingMapper(started), { timeout: 5 });
      const pipe = streamOf([1, 2]).pipeThrough(stage).pipeTo(new WritableStream());
      const error = await rejects(pipe);
      equal(error?.name, 'TimeoutError');
      equal(started[0].signal.reason?.name, 'TimeoutError', 'the mapper signal aborted with the TimeoutError');
    },
  },
  {
    name: 'LimitedTransformStream: an upstream error aborts in-flight mappers with it and errors the readable',
    async run() {
      const started = [];
      const upstreamError = new Error('upstream broke');
      let sourceController;
      const source = new ReadableStream({
        start(controller) {
          sourceController = controller;
          controller.enqueue(1);
          controller.enqueue(2);
        },
      });
      const readable = source.pipeThrough(new LimitedTransformStream(2, hangingMapper(started)));
      const read = readable.getReader().read();
      await settle();
      equal(started.length, 2);
      sourceController.error(upstreamError);
      equal(await rejects(read), upstreamError);
      for (const { signal } of started) equal(signal.reason, upstreamError);
    },
  },
  {
    name: 'LimitedTransformStream: a readableStrategy.size() that throws errors both sides with its error and aborts the mappers',
    async run() {
      const sizeError = new RangeError('no size for this chunk');
      const started = [];
      const stage = new LimitedTransformStream(2, (x, context) => (x === 0 ? x : hangingMapper(started)(x, context)), {
        readableStrategy: {
          highWaterMark: 4,
          size() {
            throw sizeError;
          },
        },
      });
      // Nobody reads, so the first result is queued (a pending read would take it without size()).
      const pipe = streamOf([0, 1, 2]).pipeTo(stage.writable);
      equal(await rejects(pipe), sizeError);
      equal(await rejects(stage.readable.getReader().read()), sizeError);
      ok(
        started.every(({ signal }) => signal.aborted),
        'in-flight mappers aborted',
      );
    },
  },
  {
    name: 'LimitedTransformStream: a writableStrategy.size() that throws or returns NaN errors both sides with its error and aborts the mappers',
    async run() {
      for (const misbehave of [
        () => {
          throw new RangeError('no size for this chunk');
        },
        () => Number.NaN,
      ]) {
        const started = [];
        let sized = 0;
        const stage = new LimitedTransformStream(2, hangingMapper(started), {
          writableStrategy: { highWaterMark: 2, size: (chunk) => (++sized === 3 ? misbehave(chunk) : 1) },
        });
        const writer = stage.writable.getWriter();
        for (const x of [0, 1]) writer.write(x).catch(() => {});
        await settle();
        equal(started.length, 2, 'two mappers running');
        // The writable side errors by itself here, without calling its sink: the stage must notice.
        const error = await rejects(writer.write(2));
        ok(error instanceof RangeError, 'the write rejects with a RangeError');
        equal(await rejects(stage.readable.getReader().read()), error, 'the readable side errors with it');
        for (const { signal } of started) equal(signal.reason, error, 'in-flight mappers aborted with it');
      }
    },
  },
  {
    name: 'LimitedTransformStream: no unhandled rejection when a mapper fails and nobody reads or awaits',
    async run() {
      const stage = new LimitedTransformStream(2, () => Promise.reject(new Error('ignored')));
      const writer = stage.writable.getWriter();
      writer.write(1).catch(() => {});
      writer.closed.catch(() => {});
      // The harness fails this check if anything inside the stage leaves a rejection unhandled.
      await settle(5);
    },
  },
  {
    name: 'LimitedTransformStream: bad arguments throw a TypeError naming the argument, value and type',
    async run() {
      const id = (x) => x;
      throwsTypeError(() => new LimitedTransformStream(0, id), ['`limit`', '`0` (number)']);
      throwsTypeError(() => new LimitedTransformStream(1.5, id), ['`limit`', '`1.5` (number)']);
      throwsTypeError(() => new LimitedTransformStream('8', id), ['`limit`', '`"8"` (string)']);
      throwsTypeError(() => new LimitedTransformStream(2, 'id'), ['`mapper`', '`"id"` (string)']);
      throwsTypeError(() => new LimitedTransformStream(2, id, 5), ['`options`', '`5` (number)']);
      throwsTypeError(() => new LimitedTransformStream(2, id, { signal: {} }), ['`options.signal`']);
      throwsTypeError(() => new LimitedTransformStream(2, id, { ordered: 'yes' }), ['`options.ordered`']);
      throwsTypeError(() => new LimitedTransformStream(2, id, { buffer: -1 }), ['`options.buffer`', '`-1` (number)']);
      throwsTypeError(
        () => new LimitedTransformStream(2, id, { writableStrategy: { highWaterMark: -1 } }),
        ['`options.writableStrategy.highWaterMark`', '`-1` (number)'],
      );
      throwsTypeError(() => new LimitedTransformStream(2, id, { readableStrategy: 3 }), ['`options.readableStrategy`']);
      // Infinity is a valid limit.
      const { items, writable } = collector();
      await streamOf([1, 2]).pipeThrough(new LimitedTransformStream(Number.POSITIVE_INFINITY, id)).pipeTo(writable);
      equal(items.length, 2);
    },
  },
  {
    name: 'LimitedTransformStream: a bad-argument TypeError leaves no listener on options.signal',
    async run() {
      const controller = new AbortController();
      let added = 0;
      const signal = controller.signal;
      const addEventListener = signal.addEventListener.bind(signal);
      signal.addEventListener = (...args) => {
        added++;
        return addEventListener(...args);
      };
      throwsTypeError(() => new LimitedTransformStream(0, (x) => x, { signal }), ['`limit`']);
      equal(added, 0);
    },
  },
  {
    name: "LimitedTransformStream: a mapper's result is awaited once (a lazy thenable runs once, and its value is the one delivered)",
    async run() {
      let thenCalls = 0;
      const lazy = (x) => ({
        then(onFulfilled, onRejected) {
          // Each then() "runs the query" again and gets a new value, as a query builder would.
          thenCalls++;
          return Promise.resolve(`${x}#${thenCalls}`).then(onFulfilled, onRejected);
        },
      });
      const out = await collect(streamOf(['a']).pipeThrough(new LimitedTransformStream(2, lazy)));
      equal(thenCalls, 1, 'then() calls on the mapper result');
      deepEqual(out, ['a#1']);
    },
  },
  {
    name: 'LimitedTransformStream: a chunk that is a promise (or thenable) is awaited before the mapper is called, which gets its value',
    async run() {
      const item = deferred();
      const seen = [];
      const stage = new LimitedTransformStream(2, (x) => {
        seen.push(x);
        return x * 10;
      });
      const out = collect(stage.readable);
      const writer = stage.writable.getWriter();
      void writer.write(item.promise);
      void writer.write({ then: (resolve) => resolve(2) });
      await settle();
      deepEqual(seen, [2], 'the mapper is not called for a pending promise chunk');
      item.resolve(1);
      await writer.close();
      deepEqual(seen, [2, 1]);
      deepEqual(await out, [20, 10]);
    },
  },
  {
    name: 'LimitedTransformStream: a chunk that is a rejected promise errors both sides with its reason, the mapper never called for it',
    async run() {
      const item = deferred();
      const seen = [];
      const stage = new LimitedTransformStream(2, (x) => {
        seen.push(x);
        return x;
      });
      const out = rejects(collect(stage.readable));
      const writer = stage.writable.getWriter();
      void writer.write(item.promise).catch(() => {});
      const boom = new Error('boom');
      item.reject(boom);
      equal(await out, boom, 'the readable errors with the rejection reason');
      equal(await rejects(writer.closed), boom, 'the writable errors with it too');
      deepEqual(seen, []);
    },
  },
  {
    name: 'limitedReadableStream: streams every task result and closes',
    async run() {
      const tasks = range(30).map((n) => async () => n * 3);
      const out = await collect(limitedReadableStream(tasks, 5));
      deepEqual(
        out.sort((a, b) => a - b),
        range(30).map((n) => n * 3),
      );
    },
  },
  {
    name: 'limitedReadableStream: ordered: true streams in source order',
    async run() {
      const gates = range(4).map(() => deferred());
      const stream = limitedReadableStream(
        gates.map((gate) => () => gate.promise),
        4,
        { ordered: true },
      );
      const out = collect(stream);
      await settle();
      for (const i of [3, 1, 2, 0]) gates[i].resolve(i);
      deepEqual(await out, [0, 1, 2, 3]);
    },
  },
  {
    name: 'limitedReadableStream: pulls tasks lazily, at most limit + buffer ahead of the reader',
    async run() {
      let pulled = 0;
      function* tasks() {
        for (let n = 0; n < 100; n++) {
          pulled++;
          yield () => n;
        }
      }
      const stream = limitedReadableStream(tasks(), 2, { buffer: 3 });
      await settle();
      equal(pulled, 0, 'nothing pulled before the first read');
      const reader = stream.getReader();
      deepEqual(await reader.read(), { value: 0, done: false });
      await settle();
      atMost(pulled, 1 + 2 + 3, 'tasks pulled after one read');
      await reader.cancel();
    },
  },
  {
    name: 'limitedReadableStream: cancel(reason) aborts in-flight tasks with that reason and closes the source',
    async run() {
      const started = [];
      let isSourceClosed = false;
      function* tasks() {
        try {
          for (let n = 0; ; n++) yield ({ signal }) => hangingMapper(started)(n, { signal });
        } finally {
          isSourceClosed = true;
        }
      }
      const stream = limitedReadableStream(tasks(), 3);
      const reader = stream.getReader();
      const read = reader.read();
      await settle();
      equal(started.length, 3);
      const reason = new Error('enough');
      await reader.cancel(reason);
      deepEqual(await read, { value: undefined, done: true });
      await settle();
      for (const { signal } of started) equal(signal.reason, reason);
      ok(isSourceClosed, "the source generator's finally ran");
      equal(started.length, 3, 'nothing new started');
    },
  },
  {
    name: 'limitedReadableStream: options.signal errors the stream with its reason and aborts in-flight tasks',
    async run() {
      const started = [];
      const controller = new AbortController();
      const tasks = range(10).map((n) => (context) => hangingMapper(started)(n, context));
      const stream = limitedReadableStream(tasks, 2, { signal: controller.signal });
      const reader = stream.getReader();
      const read = reader.read();
      await settle();
      const reason = new Error('user abort');
      controller.abort(reason);
      equal(await rejects(read), reason);
      for (const { signal } of started) equal(signal.reason, reason);
      equal(started.length, 2);
    },
  },
  {
    name: 'LimitedTransformStream: readable.cancel(reason) during writer.close() rejects the close with that reason',
    async run() {
      const started = [];
      const stage = new LimitedTransformStream(2, hangingMapper(started));
      const writer = stage.writable.getWriter();
      void writer.write(1);
      const closing = writer.close();
      const reader = stage.readable.getReader();
      const read = reader.read();
      await settle();
      equal(started.length, 1);
      const reason = new Error('cancelled while closing');
      await reader.cancel(reason);
      equal(await rejects(closing), reason);
      equal(started[0].signal.reason, reason);
      deepEqual(await read, { value: undefined, done: true });
    },
  },
  {
    name: 'limitedReadableStream: an already-aborted options.signal errors the stream and starts nothing',
    async run() {
      let started = 0;
      const reason = new Error('aborted before start');
      const stream = limitedReadableStream([() => started++], 1, { signal: AbortSignal.abort(reason) });
      equal(await rejects(stream.getReader().read()), reason);
      await settle();
      equal(started, 0);
    },
  },
  {
    name: 'limitedReadableStream: a task failure errors the stream with that same error',
    async run() {
      const boom = new Error('task failed');
      const tasks = [() => 1, () => Promise.reject(boom), () => 3];
      equal(await rejects(collect(limitedReadableStream(tasks, 1))), boom);
    },
  },
  {
    name: 'limitedReadableStream: bad arguments throw a TypeError naming the argument',
    async run() {
      throwsTypeError(() => limitedReadableStream([], 0), ['`limit`', '`0` (number)']);
      throwsTypeError(() => limitedReadableStream(42, 2), ['`tasks`', '`42` (number)']);
      throwsTypeError(() => limitedReadableStream([], 2, null), ['`options`', '`null` (null)']);
      throwsTypeError(() => limitedReadableStream([], 2, { signal: 'x' }), ['`options.signal`', '`"x"` (string)']);
    },
  },
  // Adversarial cases: pipe options, lock hand-offs, tee, reentrant stops, hostile sources.
  {
    name: 'LimitedTransformStream: pipeThrough with a signal and preventAbort cancels the source but leaves the stage running; closed by hand it delivers every result',
    async run() {
      const control = controlledMapper();
      let isReleased = false;
      // Held until the pipe is aborted; chunks the pipe still writes after that (it read them already) map at once.
      const stage = new LimitedTransformStream(2, (x, context) => (isReleased ? x : control.mapper(x, context)));
      let written = 0;
      let cancelReason;
      const source = new ReadableStream(
        {
          pull: (controller) => controller.enqueue(written++),
          cancel: (reason) => {
            cancelReason = reason;
          },
        },
        { highWaterMark: 0 },
      );
      const controller = new AbortController();
      const out = collect(source.pipeThrough(stage, { signal: controller.signal, preventAbort: true }));
      await settle();
      equal(control.calls.length, 2);
      const reason = new Error('stop the pipe');
      controller.abort(reason);
      isReleased = true;
      // The pipe lets go of the writable once the writes it waits on settle.
      for (const call of control.calls) call.gate.resolve(call.item);
      await settle();
      equal(cancelReason, reason, 'the source is cancelled with the reason');
      ok(
        control.calls.every(({ signal }) => !signal.aborted),
        'no mapper aborted',
      );
      await stage.writable.getWriter().close();
      deepEqual(
        (await out).sort((a, b) => a - b),
        range(written),
        'every chunk the stage took came out',
      );
    },
  },
  {
    name: 'LimitedTransformStream: pipeTo from the readable with a signal and preventCancel leaves the rest for the next reader',
    async run() {
      const stage = new LimitedTransformStream(2, async (x) => x);
      const writing = streamOf(range(10)).pipeTo(stage.writable);
      const controller = new AbortController();
      const first = [];
      const piping = stage.readable.pipeTo(
        new WritableStream({
          write(x) {
            first.push(x);
            if (first.length === 3) controller.abort(new Error('enough'));
          },
        }),
        { signal: controller.signal, preventCancel: true },
      );
      equal((await rejects(piping)).message, 'enough');
      const rest = await collect(stage.readable);
      await writing;
      deepEqual(
        [...first, ...rest].sort((a, b) => a - b),
        range(10),
        'every result once',
      );
    },
  },
  {
    name: 'LimitedTransformStream: a reader that releases its lock with a read pending loses no result to the next reader',
    async run() {
      const control = controlledMapper();
      const stage = new LimitedTransformStream(5, control.mapper);
      const writing = streamOf(range(5)).pipeTo(stage.writable);
      const first = stage.readable.getReader();
      await settle();
      control.calls[0].gate.resolve(0);
      deepEqual(await first.read(), { value: 0, done: false });
      const pending = first.read().catch((error) => error);
      await settle();
      first.releaseLock();
      ok((await pending) instanceof TypeError, 'the pending read rejects with a TypeError');
      for (const call of control.calls.slice(1)) call.gate.resolve(call.item);
      deepEqual(
        (await collect(stage.readable)).sort((a, b) => a - b),
        [1, 2, 3, 4],
      );
      await writing;
    },
  },
  {
    name: 'LimitedTransformStream: both branches of tee() get every result',
    async run() {
      const [left, right] = streamOf(range(20))
        .pipeThrough(new LimitedTransformStream(3, async (x) => x * 2))
        .tee();
      const [a, b] = await Promise.all([collect(left), collect(right)]);
      deepEqual(a, b, 'the branches agree');
      deepEqual(
        [...a].sort((x, y) => x - y),
        range(20).map((x) => x * 2),
      );
    },
  },
  {
    name: 'LimitedTransformStream: undefined and null results are enqueued as they are',
    async run() {
      const out = await collect(
        streamOf(range(4)).pipeThrough(
          new LimitedTransformStream(2, (x) => (x % 2 === 0 ? null : undefined), { ordered: true }),
        ),
      );
      deepEqual(out, [null, undefined, null, undefined]);
    },
  },
  {
    name: 'LimitedTransformStream: a mapper that cancels the readable side from inside itself stops the stage with its reason',
    async run() {
      const reason = new Error('cancelled from a mapper');
      const started = [];
      const stage = new LimitedTransformStream(2, (x, { signal }) => {
        started.push(signal);
        if (x === 1) stage.readable.cancel(reason).catch(() => {});
        return new Promise(() => {});
      });
      const piping = streamOf(range(10)).pipeTo(stage.writable);
      equal(await rejects(piping), reason, 'the upstream pipe rejects with the reason');
      equal(started.length, 2, 'nothing new started');
      for (const signal of started) equal(signal.reason, reason, 'in-flight mappers aborted with the reason');
    },
  },
  {
    name: 'LimitedTransformStream: a mapper that aborts the writer from inside itself errors the readable with its reason',
    async run() {
      const reason = new Error('aborted from a mapper');
      const started = [];
      const stage = new LimitedTransformStream(2, (x, { signal }) => {
        started.push(signal);
        if (x === 1) writer.abort(reason).catch(() => {});
        return new Promise(() => {});
      });
      const writer = stage.writable.getWriter();
      for (const x of range(4)) writer.write(x).catch(() => {});
      equal(await rejects(stage.readable.getReader().read()), reason);
      equal(started.length, 2, 'nothing new started');
      for (const signal of started) equal(signal.reason, reason, 'in-flight mappers aborted with the reason');
    },
  },
  {
    name: 'LimitedTransformStream: when two mappers fail, both sides error with the first failure only',
    async run() {
      const stage = new LimitedTransformStream(3, async (x) => {
        await settle(1);
        throw new Error(`failure ${x}`);
      });
      const writer = stage.writable.getWriter();
      for (const x of range(3)) writer.write(x).catch(() => {});
      const read = rejects(stage.readable.getReader().read());
      const closed = rejects(writer.closed);
      const [readError, writeError] = await Promise.all([read, closed]);
      equal(readError.message, 'failure 0');
      equal(writeError, readError, 'the same error on both sides');
    },
  },
  {
    name: "limitedReadableStream: cancel() resolves even when the source's return() hangs or throws",
    async run() {
      for (const close of [
        () => new Promise(() => {}),
        () => {
          throw new Error('return() threw');
        },
      ]) {
        const started = [];
        const source = {
          [Symbol.asyncIterator]: () => ({
            next: async () => ({ value: hangingTask(started), done: false }),
            return: close,
          }),
        };
        const reader = limitedReadableStream(source, 2).getReader();
        const read = reader.read();
        await settle();
        equal(started.length, 2);
        await reader.cancel(new Error('stop'));
        deepEqual(await read, { value: undefined, done: true });
        ok(
          started.every(({ signal }) => signal.aborted),
          'in-flight tasks aborted',
        );
      }
    },
  },
  {
    name: "limitedReadableStream: cancel() while a pull is pending resolves at once, and the generator's finally runs once the pull settles",
    async run() {
      const pull = deferred();
      let isFinallyRun = false;
      async function* tasks() {
        try {
          await pull.promise;
          yield () => 1;
        } finally {
          isFinallyRun = true;
        }
      }
      const reader = limitedReadableStream(tasks(), 2).getReader();
      const read = reader.read();
      await settle();
      await reader.cancel('stop');
      deepEqual(await read, { value: undefined, done: true });
      equal(isFinallyRun, false, 'the generator is still inside its pull');
      pull.resolve();
      await settle();
      ok(isFinallyRun, "the generator's finally ran");
    },
  },
];
