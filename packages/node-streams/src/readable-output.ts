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
  /** `options.signal`: an error that is its reason came from it, not from a mapper or task. */
  readonly #signal: AbortSignal | undefined;
  readonly #onDone: (() => void) | undefined;
  readonly #onReady: (() => void) | undefined;

  constructor(
    stream: Readable,
    who: 'mapper' | 'task',
    signal: AbortSignal | undefined,
    onDone?: () => void,
    onReady?: () => void,
  ) {
    this.#stream = stream;
    this.#who = who;
    this.#signal = signal;
    this.#onDone = onDone;
    this.#onReady = onReady;
  }

  onResult(value: TResult): boolean {
    // null would end an object-mode stream and undefined cannot be pushed: such results are skipped.
    if (value === null || value === undefined) return true;
    return this.#stream.push(value);
  }

  /** True until the stage's constructor has its run: a failure reported from inside it waits a microtask. */
  #isConstructing = true;

  /** The stage has its run. */
  constructed(): void {
    this.#isConstructing = false;
  }

  onError(error: unknown): void {
    const signal = this.#signal;
    const who = signal?.aborted === true && Object.is(signal.reason, error) ? 'signal' : this.#who;
    const reason = toStreamError(error, who);
    // An already-aborted `options.signal` is reported while the stage is being made. Destroyed from
    // inside its constructor, it would be closed before `pipeline()` gets it, and Node 24's
    // `pipeline()` then throws ERR_STREAM_UNABLE_TO_PIPE instead of rejecting with the reason.
    if (this.#isConstructing) queueMicrotask(() => this.#stream.destroy(reason));
    else this.#stream.destroy(reason);
  }

  onDone(): void {
    this.#stream.push(null);
    this.#onDone?.();
  }

  onReady(): void {
    this.#onReady?.();
  }
}
