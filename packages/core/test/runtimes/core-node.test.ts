// core.checks.mjs on Node, as ordinary vitest tests (against the sources).
import { describe, it } from 'vitest';
import { runCheck } from '../../../web-streams/test/checks/harness.mjs';
import { checks } from './core.checks.mjs';

describe('@lac/core behaviour on Node', () => {
  for (const check of checks) it(check.name, () => runCheck(check));
});
