// A/B of two builds of @lac/core in one process: the same lazy source of resolve-at-once tasks, rounds
// interleaved, CPU time per run (process.cpuUsage: less sensitive to other processes than wall time),
// each build's median as a ratio to a bare worker loop measured in the same rounds. Pass the same build
// twice (A/A) to see the noise. Usage:
//   node bench/ab.mjs <a.mjs> <b.mjs> [<c.mjs> ...]   (ESM bundles of packages/core/src/index.ts)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const files = process.argv.slice(2);
if (files.length < 2)
  throw new TypeError('Expected at least two builds to compare, e.g. node bench/ab.mjs old.mjs new.mjs');
const builds = await Promise.all(files.map((file) => import(pathToFileURL(resolve(file)).href)));
const count = Number(process.env.AB_TASKS ?? 100_000);
const rounds = Number(process.env.AB_ROUNDS ?? 9);
const limits = [1, 16, 256];

function* source(n) {
  for (let i = 0; i < n; i++) yield () => Promise.resolve(i);
}
const call = (task) => task();

const shapes = {
  asCompleted: (core, limit) => core.limitedAsCompleted(source(count), limit),
  ordered: (core, limit) => core.limitedAsCompleted(source(count), limit, { ordered: true }),
  map: (core, limit) => core.limitedMap(source(count), limit, call),
};

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
        const time = await cpu(async () => {
          for await (const _ of shape(builds[i], limit));
        });
        if (round > 0) times[i].push(time); // round 0 warms up
      }
      if (round > 0) floors.push(floorTime);
    }
    const base = median(floors);
    console.log([name, limit, ...times.map((t) => (median(t) / base).toFixed(2))].join('\t'));
  }
}
