/** A promise with its `resolve` and `reject` at hand, and whether either was called. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  /** The value may be left out when `undefined` is one of `T`'s values (as with `void` or `unknown`). */
  resolve(...value: undefined extends T ? [value?: T] : [value: T]): void;
  reject(reason: unknown): void;
  /** True once `resolve` or `reject` was called (the promise's own callbacks may not have run yet). */
  isSettled: boolean;
}

export function deferred<T = unknown>(): Deferred<T>;
