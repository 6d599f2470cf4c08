/**
 * @lac/cli: the `lac` command. Run a shell command per input item, or GET many URLs, with limited
 * concurrency, built on `@lac/core`. This entry exposes the same program for scripts and tests.
 *
 * @example
 * ```ts
 * import { main } from '@lac/cli';
 *
 * process.exitCode = await main(['-j', '4', '-k', 'echo', '{}', ':::', 'a', 'b']);
 * ```
 *
 * @packageDocumentation
 */
export { main } from './main.js';
export type { MainIo } from './main.js';
export { compileTemplate } from './template.js';
export type { CommandTemplate, RenderedCommand } from './template.js';
