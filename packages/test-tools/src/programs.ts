import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The one environment variable that names the Chromium (or Chrome) binary for every browser test. */
export const CHROMIUM_ENV = 'LAC_CHROMIUM';

/** Headless Chromium's flags for this machine and CI: no sandbox (root), no GPU, no network of its own. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ProgramLookup {
  /** Where to look: `PATH` by default. */
  readonly path?: string | undefined;
  /** The environment to read `PATH` and override variables from. */
  readonly env?: NodeJS.ProcessEnv;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of the first of `names` found on `PATH`, or undefined. */
export function findProgram(names: readonly string[], lookup: ProgramLookup = {}): string | undefined {
  const path = lookup.path ?? (lookup.env ?? process.env).PATH ?? '';
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const file = join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

/**
 * The browser for browser tests: `$LAC_CHROMIUM` when set (even if it does not exist, so a wrong
 * path fails loudly instead of skipping), else `chromium`, `chromium-browser` or `google-chrome` on PATH.
 */
export function findChromium(lookup: ProgramLookup = {}): string | undefined {
  const configured = (lookup.env ?? process.env)[CHROMIUM_ENV];
  if (configured !== undefined && configured !== '') return configured;
  return findProgram(['chromium', 'chromium-browser', 'google-chrome'], lookup);
}

/** Why a suite is skipped: the missing program and how to get it. */
export function missingProgram(program: string, how: string): string {
  return `skipped: ${program} was not found (${how}); the tests that need it are counted as skipped`;
}
