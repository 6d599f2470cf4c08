// src/limited-transform.ts
import { Duplex } from "node:stream";
import { limitedMap } from "@lac/core";

// src/validate.ts
function describe(value) {
  let shown;
  if (typeof value === "string") shown = JSON.stringify(value);
  else if (typeof value === "function") shown = value.name ? `[Function ${value.name}]` : "[Function]";
  else if (typeof value === "bigint") shown = `${value}n`;
  else if (typeof value === "symbol") shown = value.toString();
  else if (value !== null && typeof value === "object") shown = Array.isArray(value) ? "[Array]" : Object.prototype.toString.call(value);
  else shown = String(value);
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `\`${shown}\` (${type})`;
}
function splitOptions(options) {
  if (options === void 0) return { highWaterMark: void 0, limitOptions: void 0 };
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const { highWaterMark, ...limitOptions } = options;
  if (highWaterMark !== void 0 && !(Number.isInteger(highWaterMark) && highWaterMark >= 0)) {
    throw new TypeError(`Expected \`options.highWaterMark\` to be an integer >= 0, got ${describe(highWaterMark)}`);
  }
  return { highWaterMark, limitOptions };
}

// src/writable-source.ts
var DONE = { value: void 0, done: true };
var HeldInput = class {
  #single;
  #batch;
  #index = 0;
  #count = 0;
  #callback;
  get isEmpty() {
    return this.#index === this.#count;
  }
  hold(item, callback) {
    this.#single = item;
    this.#count = 1;
    this.#callback = callback;
  }
  holdBatch(chunks, callback) {
    this.#batch = chunks;
    this.#count = chunks.length;
    this.#callback = callback;
  }
  /** Takes the next item; only call when not empty. Taking the last one calls the write callback. */
  take() {
    const batch = this.#batch;
    const item = batch === void 0 ? this.#single : batch[this.#index].chunk;
    if (++this.#index === this.#count) {
      const callback = this.#callback;
      this.drop();
      callback();
    }
    return item;
  }
  /** Forgets the held items without calling back (the stage was destroyed). */
  drop() {
    this.#single = void 0;
    this.#batch = void 0;
    this.#callback = void 0;
    this.#index = 0;
    this.#count = 0;
  }
};
var AsyncSource = class {
  #held = new HeldInput();
  /** A pull that found nothing to hand out; resolved by the next write or the end. */
  #waiter;
  #isEnded = false;
  [Symbol.asyncIterator]() {
    return this;
  }
  next() {
    if (!this.#held.isEmpty) return Promise.resolve({ value: this.#held.take(), done: false });
    if (this.#isEnded) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
  /** Core closes its source on early exit or failure. */
  return() {
    this.close();
    return Promise.resolve(DONE);
  }
  write(item, callback) {
    const waiter = this.#waiter;
    if (waiter !== void 0) {
      this.#waiter = void 0;
      waiter({ value: item, done: false });
      callback();
      return;
    }
    this.#held.hold(item, callback);
  }
  writev(chunks, callback) {
    this.#held.holdBatch(chunks, callback);
    const waiter = this.#waiter;
    if (waiter !== void 0) {
      this.#waiter = void 0;
      waiter({ value: this.#held.take(), done: false });
    }
  }
  end() {
    this.#isEnded = true;
    if (this.#held.isEmpty) this.#wake();
  }
  close() {
    this.#isEnded = true;
    this.#held.drop();
    this.#wake();
  }
  #wake() {
    const waiter = this.#waiter;
    if (waiter !== void 0) {
      this.#waiter = void 0;
      waiter(DONE);
    }
  }
};

// src/limited-transform.ts
var LimitedTransform = class extends Duplex {
  #source;
  #run;
  #signal;
  #isStarted = false;
  #isReading = false;
  /** Mirrors `destroyed`, which is a getter over both sides' state: cheaper on the per-item path. */
  #isDestroyed = false;
  #finalCallback;
  constructor(source, run, highWaterMark, signal) {
    super({ objectMode: true, ...highWaterMark === void 0 ? {} : { highWaterMark } });
    this.#source = source;
    this.#run = run;
    this.#signal = signal;
    if (signal !== void 0) {
      if (signal.aborted) this.destroy(signal.reason);
      else signal.addEventListener("abort", this.#onAbort);
    }
  }
  _write(chunk, _encoding, callback) {
    this.#source.write(chunk, callback);
    if (!this.#isStarted) this._read();
  }
  _writev(chunks, callback) {
    this.#source.writev(chunks, callback);
    if (!this.#isStarted) this._read();
  }
  _final(callback) {
    this.#finalCallback = callback;
    this.#source.end();
    if (!this.#isStarted) this._read();
  }
  _read() {
    this.#isStarted = true;
    if (this.#isReading) return;
    this.#isReading = true;
    this.#pull();
  }
  _destroy(error, callback) {
    this.#isDestroyed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#source.close();
    this.#run.return().then(
      () => callback(error),
      () => callback(error)
    );
  }
  #pull() {
    this.#run.next().then(this.#onResult, this.#onError);
  }
  #onResult = (result) => {
    if (this.#isDestroyed) return;
    if (result.done === true) {
      this.#isReading = false;
      this.#signal?.removeEventListener("abort", this.#onAbort);
      this.push(null);
      this.#finalCallback?.();
      return;
    }
    const value = result.value;
    if (value === null || value === void 0 || this.push(value)) this.#pull();
    else this.#isReading = false;
  };
  #onError = (error) => {
    this.destroy(error);
  };
  #onAbort = () => {
    this.destroy(this.#signal.reason);
  };
};
function limitedTransform(limit, mapper, options) {
  const { highWaterMark, limitOptions } = splitOptions(options);
  const source = new AsyncSource();
  const run = limitedMap(source, limit, mapper, limitOptions);
  return new LimitedTransform(source, run, highWaterMark, limitOptions?.signal);
}

// src/limited-readable.ts
import { Readable } from "node:stream";
import { limitedAsCompleted } from "@lac/core";
var LimitedReadable = class extends Readable {
  #run;
  #signal;
  #isReading = false;
  /** Mirrors `destroyed`, which is a getter over both sides' state: cheaper on the per-item path. */
  #isDestroyed = false;
  constructor(run, highWaterMark, signal) {
    super({ objectMode: true, ...highWaterMark === void 0 ? {} : { highWaterMark } });
    this.#run = run;
    this.#signal = signal;
    if (signal !== void 0) {
      if (signal.aborted) this.destroy(signal.reason);
      else signal.addEventListener("abort", this.#onAbort);
    }
  }
  _read() {
    if (this.#isReading) return;
    this.#isReading = true;
    this.#pull();
  }
  _destroy(error, callback) {
    this.#isDestroyed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#run.return().then(
      () => callback(error),
      () => callback(error)
    );
  }
  #pull() {
    this.#run.next().then(this.#onResult, this.#onError);
  }
  #onResult = (result) => {
    if (this.#isDestroyed) return;
    if (result.done === true) {
      this.#isReading = false;
      this.#signal?.removeEventListener("abort", this.#onAbort);
      this.push(null);
      return;
    }
    const value = result.value;
    if (value === null || value === void 0 || this.push(value)) this.#pull();
    else this.#isReading = false;
  };
  #onError = (error) => {
    this.destroy(error);
  };
  #onAbort = () => {
    this.destroy(this.#signal.reason);
  };
};
function limitedReadable(tasks, limit, options) {
  const { highWaterMark, limitOptions } = splitOptions(options);
  const run = limitedAsCompleted(tasks, limit, limitOptions);
  return new LimitedReadable(run, highWaterMark, limitOptions?.signal);
}
export {
  limitedReadable,
  limitedTransform
};
//# sourceMappingURL=index.js.map