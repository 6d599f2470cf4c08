import type { Readable } from 'node:stream';
import { parseSize } from './room.js';
import { StreamReader } from './stream-reader.js';

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
export class BlockReader extends StreamReader<Buffer> {
  readonly #blockSize: number;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  readonly #isPart: boolean;

  constructor(stream: Readable, blockSize: number, isPart = false) {
    super(stream);
    this.#blockSize = blockSize;
    this.#isPart = isPart;
  }

  protected ingest(chunk: Buffer): void {
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
  }

  /** The last block is cut by `produce()` once the input has ended. */
  protected finish(): void {}

  protected clear(): void {
    this.#buffered = [];
    this.#bufferedBytes = 0;
  }

  /** The next whole block, if the buffered bytes hold one (or the input has ended). */
  protected produce(): Buffer | undefined {
    if (this.#bufferedBytes === 0) return undefined;
    if (this.#bufferedBytes <= this.#blockSize && !this.isEnded) return undefined;
    const data = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
    let end = data.length;
    if (data.length > this.#blockSize || (!this.#isPart && data.length === this.#blockSize)) {
      const last = this.#isPart ? -1 : data.lastIndexOf(10, this.#blockSize - 1);
      if (last !== -1) end = last + 1;
      else {
        const next = data.indexOf(10, this.#blockSize);
        if (next !== -1) end = next + 1;
        else if (!this.isEnded) {
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
}
