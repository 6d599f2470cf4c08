// Headless Chromium (Debian's /usr/bin/chromium, or LAC_CHROMIUM) through playwright-core, for the
// tests that look at the built site the way a reader's browser does.
import { CHROMIUM_ARGS, CHROMIUM_ENV, findChromium, missingProgram } from '@lac/test-tools';
import { type Browser, chromium } from 'playwright-core';

export const chromiumPath = findChromium();
if (chromiumPath === undefined) {
  console.warn(
    missingProgram(
      'Chromium',
      `Debian: apt-get install chromium; elsewhere set ${CHROMIUM_ENV} to a Chromium or Chrome binary`,
    ),
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}
