// Every test of every package runs under the unhandled-rejection watch (vitest.shared.ts installs
// this file): no run, source, stream or task may leave a rejection unhandled, whatever the test
// asserts besides, and the test that left one fails by name. Fake timers are restored first, since
// the watch waits on real turns of the event loop before it looks.
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { type UnhandledWatch, watchUnhandled } from './unhandled.js';

let watch: UnhandledWatch | undefined;

beforeEach(() => {
  watch = watchUnhandled();
});

afterEach(async () => {
  vi.useRealTimers();
  const current = watch;
  watch = undefined;
  if (current === undefined) return;
  await current.dispose();
  expect(current.reasons, 'rejections left unhandled by this test').toEqual([]);
});
