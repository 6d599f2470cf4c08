// Issue 13's per-key and shared-limit targets, side by side in one process (CPU time, median of
// interleaved rounds, resolve-at-once tasks):
// - per key: 1,000 keys in turn, perKey 2, limit 64, against the same run with no key (target ≤ 1.5x);
// - createSharedLimit as `slots` for 8 runs at once (limit 16 each, the shared limit 128, so it
//   never holds one back), against the same 8 runs with no shared limit (target ≤ 1.3x).
// Usage: node bench/limits.mjs   (needs core built; LIMITS_TASKS, LIMITS_ROUNDS to change the size)
import { createSharedLimit, limitedAsCompleted, perKey } from '@lac/core';

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
const perKeyRatio = ms[names[1]] / ms[names[0]];
const shared = ms[names[3]] / ms[names[2]];
console.log(`per key / plain: ${perKeyRatio.toFixed(2)}x (target ≤ 1.5x: ${perKeyRatio <= 1.5 ? 'met' : 'missed'})`);
console.log(`shared limit / none: ${shared.toFixed(2)}x (target ≤ 1.3x: ${shared <= 1.3 ? 'met' : 'missed'})`);
