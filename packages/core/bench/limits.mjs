// Issue 13's per-key and shared-limit targets, side by side in one process (CPU time, median of
// interleaved rounds, resolve-at-once tasks):
// - per key: 1,000 keys in turn, perKey 2, limit 64, against the same run with no key (target ≤ 1.5x);
// - createSharedLimit as `slots` for 8 runs at once (limit 16 each, the shared limit 128, so it
//   never holds one back), against the same 8 runs with no shared limit (target ≤ 1.3x); beside it, the
//   same runs with a slots source that does nothing (the engine's cost of having a slots gate at all).
// Each ratio is the median over the rounds of the two cases' times in that round (they run next to each
// other, so a slower patch of the shared machine hits both), with the spread of those ratios.
// Usage: node bench/limits.mjs [build.mjs]   (needs core built, or an ESM bundle of packages/core/src/index.ts;
// LIMITS_TASKS, LIMITS_ROUNDS to change the size)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const build = process.argv[2];
const { createSharedLimit, limitedAsCompleted, perKey, slotsFrom } = await import(
  build === undefined ? '@lac/core' : pathToFileURL(resolve(build)).href
);

const count = Number(process.env.LIMITS_TASKS ?? 100_000);
const rounds = Number(process.env.LIMITS_ROUNDS ?? 9);

function* source(n) {
  for (let i = 0; i < n; i++) yield () => Promise.resolve(i);
}

async function consume(iterator) {
  let sum = 0;
  for await (const value of iterator) sum += value;
  return sum;
}

const cases = {
  'plain, limit 64': () => consume(limitedAsCompleted(source(count), 64)),
  'per key (1,000 keys, perKey 2), limit 64': () =>
    consume(limitedAsCompleted(source(count), 64, { perKey: perKey((_, index) => index % 1000, 2) })),
  '8 runs, limit 16 each': () =>
    Promise.all(Array.from({ length: 8 }, () => consume(limitedAsCompleted(source(count / 8), 16)))),
  '8 runs, limit 16 each, createSharedLimit(128) as slots': () => {
    const slots = createSharedLimit(128);
    return Promise.all(Array.from({ length: 8 }, () => consume(limitedAsCompleted(source(count / 8), 16, { slots }))));
  },
  '8 runs, limit 16 each, a slots source that does nothing': () => {
    const slots = slotsFrom({ acquire: () => 0, release() {} });
    return Promise.all(Array.from({ length: 8 }, () => consume(limitedAsCompleted(source(count / 8), 16, { slots }))));
  },
};

async function cpu(run) {
  const start = process.cpuUsage();
  await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const names = Object.keys(cases);
const times = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round <= rounds; round++) {
  const order = round % 2 === 0 ? names : [...names].reverse();
  for (const name of order) {
    const time = await cpu(cases[name]);
    if (round > 0) times[name].push(time); // round 0 warms up
  }
}
const ms = Object.fromEntries(names.map((name) => [name, median(times[name])]));
for (const name of names)
  console.log(`${name.padEnd(56)} ${ms[name].toFixed(1)} ms (${((ms[name] * 1000) / count).toFixed(3)} µs/task)`);
/** The median of the per-round ratios of `a` to `b`, and their lowest and highest. */
const ratio = (a, b) => {
  const ratios = times[a].map((time, round) => time / times[b][round]).sort((x, y) => x - y);
  return { median: median(ratios), low: ratios[0], high: ratios[ratios.length - 1] };
};
const report = (label, { median: value, low, high }, target) =>
  console.log(
    `${label}: ${value.toFixed(2)}x (rounds ${low.toFixed(2)}-${high.toFixed(2)}; target ≤ ${target}x: ${value <= target ? 'met' : 'missed'})`,
  );
report('per key / plain', ratio(names[1], names[0]), 1.5);
report('shared limit / none', ratio(names[3], names[2]), 1.3);
const floor = ratio(names[4], names[2]);
console.log(
  `a slots source that does nothing / none: ${floor.median.toFixed(2)}x (rounds ${floor.low.toFixed(2)}-${floor.high.toFixed(2)})`,
);
