import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { limitedTransform } from '@lac/node-streams';

// 200 records through an async stage that runs at most 8 lookups at once, into a slow sink.
let running = 0;
let peak = 0;
const enrich = limitedTransform(8, async (id: number, { signal }) => {
  peak = Math.max(peak, ++running);
  await sleep(5 + (id % 7), undefined, { signal }); // e.g. a database lookup
  running--;
  return { id, label: `record-${id}` };
});

const written: number[] = [];
const sink = new Writable({
  objectMode: true,
  highWaterMark: 4,
  write(record: { id: number }, _encoding, callback) {
    written.push(record.id);
    setTimeout(callback, 1); // a slow sink: backpressure holds the stage back
  },
});

await pipeline(Readable.from(Array.from({ length: 200 }, (_, i) => i)), enrich, sink);
console.log(`${written.length} records written, ${new Set(written).size} distinct, peak ${peak} lookups at once`);
