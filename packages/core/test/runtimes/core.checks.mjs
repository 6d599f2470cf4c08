// Behaviour checks for @lac/core's public API in plain ESM, so that the same file runs under vitest
// on Node and, bundled with the built package, on Deno, Bun and in Chromium (core-runtimes.test.ts).
// The assertion helper and harness come from @lac/test-tools, shared with @lac/web-streams' checks.
import { createLimiter, limitedAsCompleted, limitedAsSettled, limitedMap, rateLimit } from '@lac/core';
import { atMost, deepEqual, deferred, equal, ok, rejects, settle, throwsTypeError } from '@lac/test-tools/assert';

const range = (n) => Array.from({ length: n }, (_, i) => i);

async function drain(iterator) {
  const out = [];
  for await (const value of iterator) out.push(value);
  return out;
}

/** Tasks that wait until the check releases them; records concurrency and their signals. */
function controlledTasks(count) {
  const calls = [];
  let running = 0;
  let peak = 0;
  const tasks = range(count).map((n) => (context) => {
    const gate = deferred();
    running++;
    peak = Math.max(peak, running);
    calls.push({ n, context, signal: context.signal, gate });
    return gate.promise.finally(() => {
      running--;
    });
  });
  return {
    tasks,
    calls,
    get running() {
      return running;
    },
    get peak() {
      return peak;
    },
  };
}

function hangingTask(started, n) {
  return ({ signal }) => {
    started.push({ n, signal });
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };
}

export const checks = [
  {
    name: 'limitedAsCompleted: yields every result of a sync iterable of tasks',
    async run() {
      const out = await drain(
        limitedAsCompleted(
          range(25).map((n) => async () => n * 2),
          4,
        ),
      );
      deepEqual(
        out.sort((a, b) => a - b),
        range(25).map((n) => n * 2),
      );
    },
  },
  {
    name: 'limitedAsCompleted: yields in completion order by default',
    async run() {
      const control = controlledTasks(4);
      const out = drain(limitedAsCompleted(control.tasks, 4));
      await settle();
      for (const n of [2, 0, 3, 1]) control.calls[n].gate.resolve(n);
      deepEqual(await out, [2, 0, 3, 1]);
    },
  },
  {
    name: 'limitedAsCompleted: ordered: true yields in source order',
    async run() {
      const control = controlledTasks(4);
      const out = drain(limitedAsCompleted(control.tasks, 4, { ordered: true }));
      await settle();
      for (const n of [3, 1, 2, 0]) control.calls[n].gate.resolve(n);
      deepEqual(await out, [0, 1, 2, 3]);
    },
  },
  {
    name: 'limitedAsCompleted: never runs more than limit tasks at once, and reaches the limit',
    async run() {
      const control = controlledTasks(15);
      const out = drain(limitedAsCompleted(control.tasks, 3));
      let released = 0;
      while (released < 15) {
        await settle(1);
        atMost(control.running, 3, 'tasks running at once');
        const next = control.calls[released];
        if (next === undefined) continue;
        next.gate.resolve(next.n);
        released++;
      }
      equal((await out).length, 15);
      equal(control.peak, 3);
    },
  },
  {
    name: 'limitedAsCompleted: pulls the source lazily and at most limit + buffer ahead of the consumer',
    async run() {
      let pulled = 0;
      function* tasks() {
        for (let n = 0; n < 100; n++) {
          pulled++;
          yield () => n;
        }
      }
      const iterator = limitedAsCompleted(tasks(), 2, { buffer: 1 });
      await settle();
      equal(pulled, 0, 'nothing pulled before next()');
      await iterator.next();
      await settle();
      atMost(iterator.stats.started - 1, 2 + 1, 'started but unconsumed');
      atMost(pulled, 1 + 2 + 1, 'pulled');
      await iterator.return();
    },
  },
  {
    name: 'limitedAsCompleted: takes an async iterable source',
    async run() {
      async function* tasks() {
        for (let n = 0; n < 10; n++) {
          await null;
          yield () => n;
        }
      }
      const out = await drain(limitedAsCompleted(tasks(), 3));
      deepEqual(
        out.sort((a, b) => a - b),
        range(10),
      );
    },
  },
  {
    name: 'limitedAsCompleted: fails fast with the same error, aborts in-flight tasks and closes the source',
    async run() {
      const started = [];
      let isClosed = false;
      const boom = new Error('boom');
      function* tasks() {
        try {
          yield hangingTask(started, 0);
          yield hangingTask(started, 1);
          yield () => Promise.reject(boom);
          for (let n = 3; ; n++) yield hangingTask(started, n);
        } finally {
          isClosed = true;
        }
      }
      const error = await rejects(drain(limitedAsCompleted(tasks(), 3)));
      equal(error, boom, 'the iterator rejects with the task error');
      equal(started.length, 2, 'nothing new started');
      ok(
        started.every(({ signal }) => signal.aborted),
        'in-flight signals aborted',
      );
      ok(isClosed, "the source generator's finally ran");
    },
  },
  {
    name: 'limitedAsCompleted: results finished before a failure are still delivered, then the error',
    async run() {
      const boom = new Error('late failure');
      const gate = deferred();
      const tasks = [() => 'a', () => 'b', () => gate.promise];
      const iterator = limitedAsCompleted(tasks, 3);
      const seen = [];
      seen.push((await iterator.next()).value);
      gate.reject(boom);
      await settle();
      seen.push((await iterator.next()).value);
      equal(await rejects(iterator.next()), boom);
      deepEqual(seen, ['a', 'b']);
    },
  },
  {
    name: 'limitedAsCompleted: leaving the loop early aborts in-flight tasks and closes the source',
    async run() {
      const started = [];
      let isClosed = false;
      function* tasks() {
        try {
          yield () => 'first';
          for (let n = 1; ; n++) yield hangingTask(started, n);
        } finally {
          isClosed = true;
        }
      }
      for await (const value of limitedAsCompleted(tasks(), 3)) {
        equal(value, 'first');
        break;
      }
      ok(isClosed, "the source generator's finally ran");
      ok(started.length > 0 && started.every(({ signal }) => signal.aborted), 'in-flight signals aborted');
    },
  },
  {
    name: 'limitedAsCompleted: options.signal rejects next() with its reason and aborts in-flight tasks',
    async run() {
      const started = [];
      const controller = new AbortController();
      const iterator = limitedAsCompleted(
        range(5).map((n) => hangingTask(started, n)),
        2,
        { signal: controller.signal },
      );
      const next = iterator.next();
      await settle();
      const reason = new Error('stop');
      controller.abort(reason);
      equal(await rejects(next), reason);
      equal(started.length, 2);
      ok(
        started.every(({ signal }) => signal.reason === reason),
        'aborted with the reason',
      );
    },
  },
  {
    name: 'limitedAsCompleted: options.timeout fails a slow task with a TimeoutError and aborts it',
    async run() {
      const started = [];
      const error = await rejects(drain(limitedAsCompleted([hangingTask(started, 0)], 1, { timeout: 5 })));
      equal(error?.name, 'TimeoutError');
      equal(error?.code, 'ERR_LAC_TIMEOUT');
      equal(started[0].signal.reason, error, 'the task signal aborted with the TimeoutError');
    },
  },
  {
    name: 'limitedAsCompleted: options.rate still delivers every result',
    async run() {
      const out = await drain(
        limitedAsCompleted(
          range(6).map((n) => () => n),
          6,
          { rate: rateLimit({ limit: 3, interval: 5 }) },
        ),
      );
      deepEqual(
        out.sort((a, b) => a - b),
        range(6),
      );
    },
  },
  {
    name: 'limitedAsCompleted: stats count started, completed and failed tasks',
    async run() {
      const iterator = limitedAsSettled([() => 1, () => Promise.reject(new Error('x')), () => 3], 3);
      await drain(iterator);
      const { started, completed, failed, running, buffered } = iterator.stats;
      deepEqual(
        { started, completed, failed, running, buffered },
        { started: 3, completed: 2, failed: 1, running: 0, buffered: 0 },
      );
    },
  },
  {
    name: 'limitedAsSettled: reports every outcome and keeps going after a failure',
    async run() {
      const boom = new Error('one failed');
      const out = await drain(limitedAsSettled([() => 1, () => Promise.reject(boom), () => 3], 1));
      deepEqual(out[0], { status: 'fulfilled', value: 1, index: 0 });
      equal(out[1].status, 'rejected');
      equal(out[1].reason, boom);
      equal(out[1].index, 1);
      deepEqual(out[2], { status: 'fulfilled', value: 3, index: 2 });
    },
  },
  {
    name: 'limitedMap: maps every item with its index',
    async run() {
      const out = await drain(
        limitedMap(['a', 'b', 'c'], 2, async (item, { index }) => `${item}${index}`, { ordered: true }),
      );
      deepEqual(out, ['a0', 'b1', 'c2']);
    },
  },
  {
    name: 'createLimiter: runs at most concurrency calls at once and resolves each call',
    async run() {
      const limit = createLimiter(2);
      const gates = range(5).map(() => deferred());
      let running = 0;
      let peak = 0;
      const calls = gates.map((gate, n) =>
        limit(async () => {
          running++;
          peak = Math.max(peak, running);
          await gate.promise;
          running--;
          return n;
        }),
      );
      await settle();
      equal(limit.activeCount, 2);
      equal(limit.pendingCount, 3);
      for (const gate of gates) {
        gate.resolve();
        await settle(1);
      }
      deepEqual(await Promise.all(calls), range(5));
      equal(peak, 2);
      deepEqual(await limit.map([1, 2, 3], async (x, i) => x * 10 + i), [10, 21, 32]);
    },
  },
  {
    name: 'bad arguments throw a TypeError naming the argument, value and type',
    async run() {
      throwsTypeError(() => limitedAsCompleted([], 0), ['`limit`', '`0` (number)']);
      throwsTypeError(() => limitedAsCompleted([], '4'), ['`limit`', '`"4"` (string)']);
      throwsTypeError(() => limitedAsCompleted(5, 2), ['`tasks`', '`5` (number)']);
      throwsTypeError(() => limitedAsCompleted([], 2, { buffer: -1 }), ['`options.buffer`', '`-1` (number)']);
      throwsTypeError(() => limitedAsCompleted([], 2, { signal: {} }), ['`options.signal`']);
      throwsTypeError(() => limitedMap([], 2, 'nope'), ['`mapper`', '`"nope"` (string)']);
      throwsTypeError(() => createLimiter(0), ['`concurrency`', '`0` (number)']);
      const error = await rejects(drain(limitedAsCompleted([42], 1)));
      ok(
        error instanceof TypeError && error.message.includes('`42` (number)'),
        `a non-function task fails with a TypeError, got ${error}`,
      );
    },
  },
];
