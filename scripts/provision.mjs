// Finds or provisions the programs some suites need: redis-server (@lac/redis, the docs' Redis
// examples), GNU parallel (@lac/cli's side-by-side tests) and Chromium (browser runs of core and web-streams, the docs' timeline page). On Debian as
// root they are installed with apt-get; elsewhere the suites that need a missing program skip, with
// a message naming it, and are counted as skipped. Deno and Bun are provisioned by the runtime suites
// themselves (packages/test-tools/src/runtime-suites.ts). LAC_NO_PROVISION=1 installs nothing.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(names) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return undefined;
}

const programs = [
  {
    name: 'redis-server',
    debian: 'redis-server',
    other: 'macOS: brew install redis',
    isThere: () => onPath(['redis-server']),
  },
  {
    name: 'GNU parallel',
    debian: 'parallel',
    other: '(macOS: brew install parallel); the @lac/cli side-by-side tests compare lac with it and fail without it',
    isThere: () => onPath(['parallel']),
  },
  {
    name: 'Chromium',
    debian: 'chromium',
    other: 'or set LAC_CHROMIUM to a Chromium or Chrome binary',
    isThere: () => process.env.LAC_CHROMIUM || onPath(['chromium', 'chromium-browser', 'google-chrome']),
  },
];

export function provision() {
  let missing = programs.filter((program) => !program.isThere());
  if (missing.length === 0) return;
  const canApt = process.getuid?.() === 0 && existsSync('/etc/debian_version') && onPath(['apt-get']) !== undefined;
  if (canApt && !process.env.LAC_NO_PROVISION) {
    const packages = missing.map((program) => program.debian);
    console.log(`=== provisioning: apt-get install ${packages.join(' ')} ===`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
    missing = missing.filter((program) => !program.isThere());
  }
  for (const program of missing) {
    console.log(
      `note: ${program.name} not found: the tests that need it will be skipped (counted as skipped). ` +
        `Get it with \`apt-get install ${program.debian}\` (Debian/Ubuntu) ${program.other}.`,
    );
  }
}
