// One deferred promise for every suite: the vitest suites (through deferred.d.mts) and the
// runtime-neutral checks that run in Deno, Bun and Chromium (through checks/assert.mjs).
// Plain JavaScript, no imports, so any runtime can load it as it is.

/** A promise with its `resolve` and `reject` at hand, and whether either was called. */
export function deferred() {
  let resolvePromise;
  let rejectPromise;
  const promise = new Promise((resolve, reject) => {
    resolvePromise = resolve;
    rejectPromise = reject;
  });
  const handle = {
    promise,
    isSettled: false,
    resolve(value) {
      handle.isSettled = true;
      resolvePromise(value);
    },
    reject(reason) {
      handle.isSettled = true;
      rejectPromise(reason);
    },
  };
  return handle;
}
