import type { Readable } from 'node:stream';
import { parseSize } from './room.js';

const DONE: IteratorResult<Buffer> = { value: undefined, done: true };

/**
 * `--block SIZE`: bytes, with GNU parallel's suffixes (`1k` = 1000, `1K` = 1024, `10M`...); or `-N`,
 * for `--pipe-part` N blocks per job slot (returned negative).
 */
export function parseBlockSize(value: string): number {
  const perSlot = /^-(\d+)$/.exec(value.trim());
  if (perSlot !== null && Number(perSlot[1]) >= 1) return -Number(perSlot[1]);
  return parseSize(value);
}

/**
 * `--pipe`: reads a stream as blocks of about `blockSize` bytes, each cut after the last newline
 * that fits (GNU parallel's rule), so no record is split between two jobs. A record longer than the
 * block is one block of its own. Reads only when a block is taken, so the stream's backpressure holds.
 * `isPart` (`--pipe-part`): GNU parallel's rule for files instead, each block cut after the first
 * newline at or past `blockSize` bytes.
 */
export class BlockReader implements AsyncIterableIterator<Buffer> {
  readonly #stream: Readable;
  readonly #blockSize: number;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #isEnded = false;
  #isStopped = false;
  #error: unknown;
  #waiter: { resolve(result: IteratorResult<Buffer>): void; reject(reason: unknown): void } | undefined;

  readonly #isPart: boolean;

  constructor(stream: Readable, blockSize: number, isPart = false) {
    this.#stream = stream;
    this.#blockSize = blockSize;
    this.#isPart = isPart;
    stream.on('readable', this.#wake);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const block = this.#take();
    if (block !== undefined) return Promise.resolve({ value: block, done: false });
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

  return(): Promise<IteratorResult<Buffer>> {
    this.stop();
    return Promise.resolve(DONE);
  }

  /** Stops reading: no more blocks, a pending `next()` resolves as done, the stream is released. */
  stop(): void {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.#buffered = [];
    this.#bufferedBytes = 0;
    this.#stream.off('readable', this.#wake);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('error', this.#onError);
    this.#stream.on('error', () => {});
    this.#stream.destroy();
    this.#wake();
  }

  #take(): Buffer | undefined {
    for (;;) {
      if (this.#isStopped) return undefined;
      const block = this.#cut();
      if (block !== undefined) return block;
      if (this.#isEnded) return undefined;
      const chunk = this.#stream.read() as Buffer | string | null;
      if (chunk === null) return undefined;
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.#buffered.push(data);
      this.#bufferedBytes += data.length;
    }
  }

  /** The next whole block, if the buffered bytes hold one (or the input has ended). */
  #cut(): Buffer | undefined {
    if (this.#bufferedBytes === 0) return undefined;
    if (this.#bufferedBytes <= this.#blockSize && !this.#isEnded) return undefined;
    const data = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
    let end = data.length;
    if (data.length > this.#blockSize || (!this.#isPart && data.length === this.#blockSize)) {
      const last = this.#isPart ? -1 : data.lastIndexOf(10, this.#blockSize - 1);
      if (last !== -1) end = last + 1;
      else {
        const next = data.indexOf(10, this.#blockSize);
        if (next !== -1) end = next + 1;
        else if (!this.#isEnded) {
          this.#buffered = [data];
          return undefined;
        }
      }
    }
    const rest = data.subarray(end);
    this.#buffered = rest.length > 0 ? [rest] : [];
    this.#bufferedBytes = rest.length;
    return data.subarray(0, end);
  }

  readonly #wake = (): void => {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    const block = this.#take();
    if (block !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ value: block, done: false });
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
    for (
      let chunk = this.#stream.read() as Buffer | null;
      chunk !== null;
      chunk = this.#stream.read() as Buffer | null
    ) {
      this.#buffered.push(chunk);
      this.#bufferedBytes += chunk.length;
    }
    this.#isEnded = true;
    this.#wake();
  };

  readonly #onError = (error: unknown): void => {
    this.#error = error;
    this.#wake();
  };
}
