import { pipeline } from 'node:stream/promises';
import { Readable, Writable, Transform } from 'node:stream';
import * as ph from './tmp-ph.mjs';
import * as as from './tmp-async.mjs';
function* gen(n) { for (let i = 0; i < n; i++) yield i; }
const N = 200000;
async function run(make) {
  let sum = 0;
  const sink = new Writable({ objectMode: true, write(c, e, cb) { sum += c; cb(); } });
  const t = performance.now();
  await pipeline(Readable.from(gen(N)), make(), sink);
  return performance.now() - t;
}
const variants = {
  floor: () => new Transform({ objectMode: true, transform(x, e, cb) { cb(null, x * 2); } }),
  ...Object.fromEntries([1, 16, 256].flatMap((l) => [['ph' + l, () => ph.limitedTransform(l, async (x) => x * 2)], ['as' + l, () => as.limitedTransform(l, async (x) => x * 2)]])),
};
const best = {};
for (let r = 0; r < 7; r++) for (const [k, f] of Object.entries(variants)) { const t = await run(f); best[k] = Math.min(best[k] ?? Infinity, t); }
for (const [k, v] of Object.entries(best)) console.log(k, v.toFixed(1), (v / best.floor).toFixed(2) + 'x');
