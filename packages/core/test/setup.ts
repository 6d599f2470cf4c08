// Every core test runs under the unhandled-rejection watch: no run, source or task may leave a
// rejection unhandled, whatever the test asserts besides. Fake timers are restored first, since the
// watch waits on real ticks before it looks.
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { watchUnhandled } from './helpers.js';

let unhandled: ReturnType<typeof watchUnhandled> | undefined;

beforeEach(() => {
  unhandled = watchUnhandled();
});

afterEach(async () => {
  vi.useRealTimers();
  const watch = unhandled;
  unhandled = undefined;
  if (watch === undefined) return;
  await watch.dispose();
  expect(watch.reasons).toEqual([]);
});
