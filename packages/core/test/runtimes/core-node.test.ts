// core.checks.mjs on Node, as ordinary vitest tests (against the sources).
import { describe, it } from 'vitest';
import { runCheck } from '@lac/test-tools/harness';
import { checks } from './core.checks.mjs';

describe('@lac/core behaviour on Node', () => {
  for (const check of checks) it(check.name, () => runCheck(check));
});
