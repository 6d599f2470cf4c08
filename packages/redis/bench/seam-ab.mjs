// A/B of @lac/core's hot path with and without a change (used for the `slots` seam): limitedAsCompleted
// over tasks that resolve at once, two builds interleaved in one process, median of 40 per-pair ratios.
// Usage: node bench/seam-ab.mjs <path to build A index.js> <path to build B index.js>
import { pathToFileURL } from 'node:url';

const [a, b] = await Promise.all(process.argv.slice(2, 4).map((path) => import(pathToFileURL(path).href)));
const N = 50_000;
function* source() {
  for (let i = 0; i < N; i++) yield () => Promise.resolve(i);
}
async function run(lib, limit) {
  let sum = 0;
  for await (const value of lib.limitedAsCompleted(source(), limit)) sum += value;
  return sum;
}
const median = (values) => values.slice().sort((x, y) => x - y)[values.length >> 1];
for (const limit of [1, 8, 64]) {
  for (let i = 0; i < 3; i++) await Promise.all([run(a, limit), run(b, limit)]);
  const ratios = [];
  for (let round = 0; round < 40; round++) {
    const times = new Map();
    for (const lib of round % 2 ? [a, b] : [b, a]) {
      const start = performance.now();
      await run(lib, limit);
      times.set(lib, performance.now() - start);
    }
    ratios.push(times.get(b) / times.get(a));
  }
  console.log(`limit ${limit}: median B/A time ratio ${median(ratios).toFixed(3)}`);
}
