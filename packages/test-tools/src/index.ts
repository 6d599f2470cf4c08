/**
 * @lac/test-tools: helpers the workspace's test suites share (private; never published, never a
 * runtime dependency).
 *
 * @packageDocumentation
 */
export {
  CHROMIUM_ARGS,
  CHROMIUM_ENV,
  findChromium,
  findProgram,
  missingProgram,
  type ProgramLookup,
} from './programs.js';
