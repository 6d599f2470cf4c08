// The runtime-neutral behaviour checks, run on Node as ordinary vitest tests (against the sources).
import { describe, it } from 'vitest';
import { runCheck } from '@lac/test-tools/harness';
import { checks } from './checks/web-streams.checks.mjs';

describe('@lac/web-streams on Node', () => {
  for (const check of checks) it(check.name, () => runCheck(check));
});
