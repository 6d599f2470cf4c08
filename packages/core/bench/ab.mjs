// A/B of two builds of @lac/core in one process: the same lazy source of resolve-at-once tasks, rounds
// interleaved, CPU time per run (process.cpuUsage: less sensitive to other processes than wall time),
// each build's median as a ratio to a bare worker loop measured in the same rounds. Pass the same build
// twice (A/A) to see the noise. Usage:
//   node bench/ab.mjs <a.mjs> <b.mjs> [<c.mjs> ...]   (ESM bundles of packages/core/src/index.ts)
// AB_SHAPES=asCompleted,perKey picks shapes (default: the plain ones), AB_LIMITS=16,64 the limits. The
// option shapes use each build's own API (the option values of issue 15, or the plain objects before
// them); a build without the option prints '-'.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const files = process.argv.slice(2);
if (files.length < 2)
  throw new TypeError('Expected at least two builds to compare, e.g. node bench/ab.mjs old.mjs new.mjs');
const builds = await Promise.all(files.map((file) => import(pathToFileURL(resolve(file)).href)));
const count = Number(process.env.AB_TASKS ?? 100_000);
const rounds = Number(process.env.AB_ROUNDS ?? 9);
const limits = (process.env.AB_LIMITS ?? '1,16,256').split(',').map(Number);

function* source(n) {
  for (let i = 0; i < n; i++) yield () => Promise.resolve(i);
}
const call = (task) => task();

/** `perKey` as the build takes it: `perKey(key, n)` (issue 15 on), `{ key, perKey }` before; undefined without it. */
const keyed = (core, key, n) =>
  core.perKey !== undefined
    ? { perKey: core.perKey(key, n) }
    : core.createSharedLimit !== undefined
      ? { key, perKey: n }
      : undefined;
const option = (core, name, value) => (core[name] !== undefined ? core[name](value) : value);

/** Options that never hold a task back: 1,000 keys in turn, one running per key, a billion starts a second, retries for tasks that never fail. */
function neverBinding(core) {
  const perKey = keyed(core, (_, index) => index % 1000, 1);
  if (perKey === undefined) return undefined;
  return {
    ...perKey,
    rate: option(core, 'rateLimit', { limit: 1e9, interval: 1000 }),
    retry: option(core, 'retryPolicy', { retries: 3 }),
  };
}

const drain = async (iterator) => {
  for await (const _ of iterator);
};

const allShapes = {
  asCompleted: (core, limit) => drain(core.limitedAsCompleted(source(count), limit)),
  ordered: (core, limit) => drain(core.limitedAsCompleted(source(count), limit, { ordered: true })),
  map: (core, limit) => drain(core.limitedMap(source(count), limit, call)),
  /** 1,000 keys in turn, 2 per key (issue 13's per-key target case at limit 64). */
  perKey: (core, limit) => {
    const options = keyed(core, (_, index) => index % 1000, 2);
    return options && drain(core.limitedAsCompleted(source(count), limit, options));
  },
  neverBinding: (core, limit) => {
    const options = neverBinding(core);
    return options && drain(core.limitedAsCompleted(source(count), limit, options));
  },
  /** A rate window that never binds, alone (a billion starts a second). */
  rate: (core, limit) => {
    if (core.rateLimit === undefined) return undefined;
    return drain(
      core.limitedAsCompleted(source(count), limit, { rate: core.rateLimit({ limit: 1e9, interval: 1000 }) }),
    );
  },
  /** Retries for tasks that never fail, alone. */
  retry: (core, limit) => {
    if (core.retryPolicy === undefined) return undefined;
    return drain(core.limitedAsCompleted(source(count), limit, { retry: core.retryPolicy({ retries: 3 }) }));
  },
  /** 8 runs at once with no shared limit: what `shared` is measured against. */
  plain8: (core, limit) =>
    Promise.all(Array.from({ length: 8 }, () => drain(core.limitedAsCompleted(source(count / 8), limit)))),
  /** 8 runs at once sharing a `createSharedLimit(8 * limit)` that never holds one back. */
  shared: (core, limit) => {
    if (core.createSharedLimit === undefined) return undefined;
    const slots = core.createSharedLimit(8 * limit);
    return Promise.all(
      Array.from({ length: 8 }, () => drain(core.limitedAsCompleted(source(count / 8), limit, { slots }))),
    );
  },
};
const shapes = Object.fromEntries(
  (process.env.AB_SHAPES ?? 'asCompleted,ordered,map').split(',').map((name) => [name, allShapes[name]]),
);

async function floor(limit) {
  const tasks = source(count);
  let sum = 0;
  const worker = async () => {
    for (const task of tasks) sum += await task();
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return sum;
}

async function cpu(run) {
  const start = process.cpuUsage();
  await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

console.log(`${count} resolve-at-once tasks, ${rounds} interleaved rounds, median CPU ms as a ratio to the bare loop`);
console.log(['shape', 'limit', ...files.map((f) => f.split('/').pop())].join('\t'));
for (const [name, shape] of Object.entries(shapes)) {
  for (const limit of limits) {
    const times = builds.map(() => []);
    const floors = [];
    for (let round = 0; round < rounds + 1; round++) {
      const floorTime = await cpu(() => floor(limit));
      const order = builds.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        let ran = true;
        const time = await cpu(async () => {
          const running = shape(builds[i], limit);
          ran = running !== undefined;
          await running;
        });
        if (round > 0 && ran) times[i].push(time); // round 0 warms up
      }
      if (round > 0) floors.push(floorTime);
    }
    const base = median(floors);
    console.log([name, limit, ...times.map((t) => (t.length === 0 ? '-' : (median(t) / base).toFixed(2)))].join('\t'));
  }
}
