/**
 * @lac/shared: the small helpers every published `@lac` package needs (private; never published).
 * Each package's build bundles what it imports from here (tsup `noExternal`), so it is never a
 * runtime dependency and no packed manifest names it. No dependencies, no `node:` imports: core
 * bundles it too.
 *
 * @packageDocumentation
 */
export { describe } from './describe.js';
export { isAbortSignal } from './is-abort-signal.js';
export { isThenable } from './is-thenable.js';
