// Headless Chromium (Debian's /usr/bin/chromium, or LAC_CHROMIUM) through playwright-core, for the
// tests that look at the built site the way a reader's browser does.
import { CHROMIUM_ENV, findChromium, missingProgram } from '@lac/test-tools';
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
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
