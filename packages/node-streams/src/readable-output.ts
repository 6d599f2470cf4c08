import type { Readable } from 'node:stream';
import type { RunConsumer } from '@lac/core/internal';
import { toStreamError } from './validate.js';

/**
 * The readable half `limitedTransform` and `limitedReadable` share: core pushes each result into the
 * stream the moment it exists, a full readable buffer (`push()` returns false) pauses core, and the
 * stream's `_read()` resumes it. A failure destroys the stream at once, whether or not anyone reads.
 */
export class ReadableOutput<TResult> implements RunConsumer<TResult> {
  readonly #stream: Readable;
  readonly #who: 'mapper' | 'task';
  readonly #onDone: (() => void) | undefined;
  readonly #onReady: (() => void) | undefined;

  constructor(stream: Readable, who: 'mapper' | 'task', onDone?: () => void, onReady?: () => void) {
    this.#stream = stream;
    this.#who = who;
    this.#onDone = onDone;
    this.#onReady = onReady;
  }

  onResult(value: TResult): boolean {
    // null would end an object-mode stream and undefined cannot be pushed: such results are skipped.
    if (value === null || value === undefined) return true;
    return this.#stream.push(value);
  }

  onError(error: unknown): void {
    this.#stream.destroy(toStreamError(error, this.#who));
  }

  onDone(): void {
    this.#stream.push(null);
    this.#onDone?.();
  }

  onReady(): void {
    this.#onReady?.();
  }
}
