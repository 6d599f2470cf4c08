// What any async object-mode stage costs before a scheduler is added: 100k objects through
// pipeline(Readable.from(generator), stage, sink) with the synchronous Transform (the floor), the
// same as a Duplex, and the thinnest async stages (each result pushed from a `.then()` of an already
// resolved promise, no concurrency bookkeeping) as a Duplex and as a Transform. Median CPU time of 4
// runs after one warm-up. Usage: node --expose-gc bench/adapter-floor.mjs [stage...]
import { Duplex, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

function* numbers(count) {
  for (let i = 0; i < count; i++) yield i;
}
const sink = (state) =>
  new Writable({
    objectMode: true,
    write(x, _encoding, callback) {
      state.sum += x;
      callback();
    },
  });

class SyncDuplex extends Duplex {
  constructor() {
    super({ objectMode: true });
  }
  _write(x, _encoding, callback) {
    this.push(x * 2);
    callback();
  }
  _read() {}
  _final(callback) {
    this.push(null);
    callback();
  }
}
class AsyncDuplex extends Duplex {
  constructor() {
    super({ objectMode: true });
  }
  _write(x, _encoding, callback) {
    Promise.resolve(x * 2).then((v) => this.push(v));
    callback();
  }
  _read() {}
  _final(callback) {
    queueMicrotask(() => {
      this.push(null);
      callback();
    });
  }
}
class AsyncTransform extends Transform {
  constructor() {
    super({ objectMode: true });
  }
  _transform(x, _encoding, callback) {
    Promise.resolve(x * 2).then((v) => this.push(v));
    callback();
  }
  _flush(callback) {
    queueMicrotask(() => callback());
  }
}
const stages = {
  'sync Transform (floor)': () => new Transform({ objectMode: true, transform: (x, _e, cb) => cb(null, x * 2) }),
  'sync Duplex': () => new SyncDuplex(),
  'async Duplex': () => new AsyncDuplex(),
  'async Transform': () => new AsyncTransform(),
};
const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(stages);
const COUNT = 100_000;
const cpu = {};
for (let round = 0; round < 5; round++) {
  for (const name of names) {
    globalThis.gc?.();
    const state = { sum: 0 };
    const before = process.cpuUsage();
    await pipeline(Readable.from(numbers(COUNT)), stages[name](), sink(state));
    const used = process.cpuUsage(before);
    if (state.sum !== COUNT * (COUNT - 1)) throw new Error(`${name} lost items`);
    if (round > 0) (cpu[name] ??= []).push((used.user + used.system) / 1000);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const floor = median(cpu[names[0]]);
for (const name of names)
  console.log(
    `${name}: ${median(cpu[name]).toFixed(0)} ms CPU (${(median(cpu[name]) / floor).toFixed(2)}x ${names[0]})`,
  );
