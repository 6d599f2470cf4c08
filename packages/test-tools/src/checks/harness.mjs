// Runs a list of named async checks and reports each as passed or failed, on any runtime.
// A check also fails when a promise rejection goes unhandled while it runs (or just after).

const CHECK_TIMEOUT_MS = 10_000;

const unhandled = [];
let isListening = false;

function describeReason(reason) {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  try {
    return String(reason);
  } catch {
    return typeof reason;
  }
}

function listenForUnhandled() {
  if (isListening) return;
  isListening = true;
  const proc = globalThis.process;
  if (proc !== undefined && typeof proc.on === 'function' && globalThis.Deno === undefined) {
    // Node and Bun.
    proc.on('unhandledRejection', (reason) => unhandled.push(describeReason(reason)));
  } else if (typeof globalThis.addEventListener === 'function') {
    // Browsers and Deno.
    globalThis.addEventListener('unhandledrejection', (event) => {
      event.preventDefault();
      unhandled.push(describeReason(event.reason));
    });
  }
}

function later(turns) {
  let promise = Promise.resolve();
  for (let i = 0; i < turns; i++) promise = promise.then(() => new Promise((resolve) => setTimeout(resolve, 0)));
  return promise;
}

/** Runs one check; throws what it threw, a timeout, or an unhandled rejection seen while it ran. */
export async function runCheck(check) {
  listenForUnhandled();
  const before = unhandled.length;
  let timer;
  try {
    await Promise.race([
      check.run(),
      new Promise((_, reject) => {
        // A hang guard, not a timing assertion: a check that never settles fails instead of stalling the run.
        timer = setTimeout(
          () => reject(new Error(`check did not finish within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  await later(3);
  if (unhandled.length > before) throw new Error(`unhandled rejection: ${unhandled.slice(before).join('; ')}`);
}

/** Runs every check in turn; resolves with `{ runtime, results: [{ name, ok, error? }] }`. */
export async function runChecks(checks) {
  const results = [];
  for (const check of checks) {
    try {
      await runCheck(check);
      results.push({ name: check.name, ok: true });
    } catch (error) {
      results.push({
        name: check.name,
        ok: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  }
  return { runtime: runtimeName(), results };
}

export function runtimeName() {
  if (globalThis.Deno !== undefined) return `deno ${globalThis.Deno.version.deno}`;
  if (globalThis.Bun !== undefined) return `bun ${globalThis.Bun.version}`;
  if (globalThis.process?.versions?.node !== undefined && typeof globalThis.window === 'undefined')
    return `node ${globalThis.process.versions.node}`;
  if (globalThis.navigator?.userAgent !== undefined) return globalThis.navigator.userAgent;
  return 'unknown';
}
