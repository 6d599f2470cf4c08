import { isThenable } from '@lac/shared';

// One copy for every package, in @lac/shared (bundled into core's build).
export { isThenable };

export function ignore(): void {}

/** An item that will never start may be a rejected promise: observe it, so it is not an unhandled rejection. */
export function observeDropped(item: unknown): void {
  try {
    if (isThenable(item)) Promise.resolve(item).then(undefined, ignore);
  } catch {
    // A `then` getter that throws: nothing was started and nothing can be observed.
  }
}
