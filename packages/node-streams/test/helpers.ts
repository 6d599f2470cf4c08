import { Writable, type Duplex } from 'node:stream';

export { type Deferred, deferred } from '@lac/test-tools/deferred';
export { unhandledRejectionsDuring } from '@lac/test-tools/unhandled';

/** Lets queued I/O callbacks, nextTicks and microtasks run: `turns` rounds of setImmediate. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** An object-mode sink that collects what it gets; `delayTurns(i)` setImmediate turns before each write's callback. */
export function collector<T>(
  delayTurns: (index: number) => number = () => 0,
  highWaterMark?: number,
): Writable & { items: T[] } {
  const items: T[] = [];
  let index = 0;
  const sink = new Writable({
    objectMode: true,
    ...(highWaterMark === undefined ? {} : { highWaterMark }),
    write(chunk: T, _encoding, callback) {
      items.push(chunk);
      const turns = delayTurns(index++);
      if (turns === 0) callback();
      else void settle(turns).then(() => callback());
    },
  });
  return Object.assign(sink, { items });
}

/**
 * Counts what enters the stage (calls to `stage.write`, as `pipe()` makes them) and what leaves it
 * (calls to `sink.write`): `held` is the number of items inside the stage, sampled at every event.
 */
export function measureHeld(stage: Duplex, sink: Writable): { readonly maxHeld: number; sample(): void } {
  let accepted = 0;
  let emitted = 0;
  let maxHeld = 0;
  const sample = (): void => {
    maxHeld = Math.max(maxHeld, accepted - emitted);
  };
  const stageWrite = stage.write.bind(stage) as (...args: unknown[]) => boolean;
  stage.write = ((...args: unknown[]) => {
    accepted++;
    sample();
    return stageWrite(...args);
  }) as Duplex['write'];
  const sinkWrite = sink.write.bind(sink) as (...args: unknown[]) => boolean;
  sink.write = ((...args: unknown[]) => {
    sample();
    emitted++;
    return sinkWrite(...args);
  }) as Writable['write'];
  return {
    get maxHeld() {
      return maxHeld;
    },
    sample,
  };
}

/** Tracks how many mappers run at once and the most ever seen. */
export function concurrencyProbe(): {
  readonly running: number;
  readonly maxRunning: number;
  enter(): void;
  leave(): void;
} {
  let running = 0;
  let maxRunning = 0;
  return {
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
    enter() {
      running++;
      maxRunning = Math.max(maxRunning, running);
    },
    leave() {
      running--;
    },
  };
}

/** Follows a promise's state without awaiting it (and marks its rejection handled): settled yet, and with what error. */
export function track<T>(promise: Promise<T>): {
  readonly promise: Promise<T>;
  readonly isSettled: boolean;
  readonly rejection: unknown;
} {
  let isSettled = false;
  let rejection: unknown;
  promise.then(
    () => {
      isSettled = true;
    },
    (error: unknown) => {
      rejection = error;
      isSettled = true;
    },
  );
  return {
    promise,
    get isSettled() {
      return isSettled;
    },
    get rejection() {
      return rejection;
    },
  };
}
