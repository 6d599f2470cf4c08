import type { Readable } from 'node:stream';

const DONE: IteratorResult<never> = { value: undefined, done: true };

/**
 * The pull protocol both input readers share: one `next()` at a time, a chunk read from the stream
 * only when what was cut from the chunks before it is taken (so the stream's own backpressure
 * holds), an item handed out as soon as it is whole, and `stop()` to end early (a pending `next()`
 * resolves as done, the stream is destroyed). Subclasses say only how chunks become items.
 */
export abstract class StreamReader<T> implements AsyncIterableIterator<T> {
  readonly #stream: Readable;
  #isEnded = false;
  #isStopped = false;
  #error: unknown;
  #waiter: { resolve(result: IteratorResult<T>): void; reject(reason: unknown): void } | undefined;

  constructor(stream: Readable) {
    this.#stream = stream;
    stream.on('readable', this.#wake);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
  }

  /** The stream has ended: what is buffered is all there is. */
  protected get isEnded(): boolean {
    return this.#isEnded;
  }

  /** The next whole item from the chunks taken so far, if there is one. */
  protected abstract produce(): T | undefined;
  /** Takes one chunk of the stream. */
  protected abstract ingest(chunk: Buffer): void;
  /** The stream ended after every chunk was ingested: keep what is left as the last item. */
  protected abstract finish(): void;
  /** `stop()`: drops what is buffered. */
  protected abstract clear(): void;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#take();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      this.stop();
      return Promise.reject(error);
    }
    if (this.#isEnded || this.#isStopped) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.stop();
    return Promise.resolve(DONE);
  }

  /** Stops reading: nothing more is handed out, a pending `next()` resolves as done, the stream is released. */
  stop(): void {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.clear();
    this.#stream.off('readable', this.#wake);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('error', this.#onError);
    // A late error from the destroyed stream has nowhere to go.
    this.#stream.on('error', () => {});
    this.#stream.destroy();
    this.#wake();
  }

  #take(): T | undefined {
    for (;;) {
      if (this.#isStopped) return undefined;
      const item = this.produce();
      if (item !== undefined) return item;
      if (this.#isEnded) return undefined;
      const chunk = this.#stream.read() as Buffer | string | null;
      if (chunk === null) return undefined;
      this.ingest(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
  }

  readonly #wake = (): void => {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    const item = this.#take();
    if (item !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
    } else if (this.#error !== undefined) {
      this.#waiter = undefined;
      const error = this.#error;
      this.#error = undefined;
      waiter.reject(error);
    } else if (this.#isEnded || this.#isStopped) {
      this.#waiter = undefined;
      waiter.resolve(DONE);
    }
  };

  readonly #onEnd = (): void => {
    // Drain what is still buffered, then whatever is left becomes the last item.
    for (
      let chunk = this.#stream.read() as Buffer | null;
      chunk !== null;
      chunk = this.#stream.read() as Buffer | null
    ) {
      this.ingest(chunk);
    }
    this.finish();
    this.#isEnded = true;
    this.#wake();
  };

  readonly #onError = (error: unknown): void => {
    this.#error = error;
    this.#wake();
  };
}
