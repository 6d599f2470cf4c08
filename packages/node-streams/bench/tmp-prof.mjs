import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import * as ph from './tmp-ph.mjs';
function* gen(n) { for (let i = 0; i < n; i++) yield i; }
let sum = 0;
for (let r = 0; r < 3; r++) {
const sink = new Writable({ objectMode: true, write(c, e, cb) { sum += c; cb(); } });
await pipeline(Readable.from(gen(1e6)), ph.limitedTransform(16, async (x) => x * 2), sink);
}
