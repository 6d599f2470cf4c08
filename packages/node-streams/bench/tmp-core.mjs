import { pipeline } from 'node:stream/promises';
import { Readable, Writable, Transform } from 'node:stream';
import { limitedMap } from '@lac/core';
function* gen(n) { for (let i = 0; i < n; i++) yield i; }
const N = 200000;
const best = {};
for (let r = 0; r < 7; r++) {
  let t = performance.now(); let sum = 0;
  const sink = new Writable({ objectMode: true, write(c, e, cb) { sum += c; cb(); } });
  await pipeline(Readable.from(gen(N)), new Transform({ objectMode: true, transform(x, e, cb) { cb(null, x * 2); } }), sink);
  best.floor = Math.min(best.floor ?? 1e9, performance.now() - t);
  for (const l of [1, 16, 256]) {
    t = performance.now();
    for await (const v of limitedMap(gen(N), l, async (x) => x * 2)) sum += v;
    best['core' + l] = Math.min(best['core' + l] ?? 1e9, performance.now() - t);
    t = performance.now();
    const it = limitedMap(gen(N), l, async (x) => x * 2);
    await new Promise((res) => { const step = (r) => { if (r.done) return res(); sum += r.value; it.next().then(step); }; it.next().then(step); });
    best['coreThen' + l] = Math.min(best['coreThen' + l] ?? 1e9, performance.now() - t);
  }
}
for (const [k, v] of Object.entries(best)) console.log(k, v.toFixed(1), (v / best.floor).toFixed(2) + 'x');
