// `pnpm bench`: runs every workspace package's `bench` script in turn (each writes its section of BENCHMARKS.md).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
let failures = 0;
for (const group of ['packages', 'apps']) {
  if (!existsSync(join(root, group))) continue;
  for (const name of readdirSync(join(root, group)).sort()) {
    const dir = join(root, group, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (!pkg.scripts?.bench || (only.length > 0 && !only.includes(pkg.name))) continue;
    console.log(`\n=== ${pkg.name}: bench ===`);
    const run = spawnSync('pnpm', ['run', 'bench'], { cwd: dir, stdio: 'inherit' });
    if (run.status !== 0) failures++;
  }
}
process.exitCode = failures > 0 ? 1 : 0;
