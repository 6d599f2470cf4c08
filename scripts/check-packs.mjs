// Packs every published package with `pnpm pack` (what `changeset publish` runs through pnpm) and checks
// the tarball a stranger would install: no `workspace:` left in the manifest, a LICENSE and README,
// every file the manifest points at (exports, main, module, types, bin) present, and peer ranges on
// `@lac/*` following the 0.x policy in CONTRIBUTING.md (`>=0.N.0 <1`). Needs the packages built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packagesDir = join(root, 'packages');
const work = mkdtempSync(join(tmpdir(), 'lac-packs-'));
const problems = [];
/** The private workspace packages (@lac/shared, @lac/test-tools): bundled in or test-only, never named by a published manifest's dependencies. */
const privateNames = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name, 'package.json'))
  .filter((file) => existsSync(file))
  .map((file) => JSON.parse(readFileSync(file, 'utf8')))
  .filter((manifest) => manifest.private)
  .map((manifest) => manifest.name);

/** Every string in the manifest that points at a file of the package. */
function pointedFiles(manifest) {
  const files = [];
  const walk = (value) => {
    if (typeof value === 'string') files.push(value);
    else if (value && typeof value === 'object') for (const inner of Object.values(value)) walk(inner);
  };
  walk(manifest.exports);
  walk(manifest.bin);
  for (const field of ['main', 'module', 'types']) walk(manifest[field]);
  return files.filter((file) => file.startsWith('./') || !file.includes(':'));
}

try {
  for (const name of readdirSync(packagesDir).sort()) {
    const dir = join(packagesDir, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const source = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (source.private) continue;
    const destination = join(work, name);
    const pack = spawnSync('pnpm', ['pack', '--pack-destination', destination], { cwd: dir, encoding: 'utf8' });
    if (pack.status !== 0) {
      problems.push(`${source.name}: pnpm pack failed:\n${pack.stderr || pack.stdout}`);
      continue;
    }
    const tarball = readdirSync(destination).find((file) => file.endsWith('.tgz'));
    spawnSync('tar', ['-xzf', join(destination, tarball), '-C', destination], { stdio: 'inherit' });
    const unpacked = join(destination, 'package');
    const text = readFileSync(join(unpacked, 'package.json'), 'utf8');
    const manifest = JSON.parse(text);
    const say = (problem) => problems.push(`${source.name}: ${problem}`);
    for (const match of text.matchAll(/"([^"]+)":\s*"(workspace:[^"]*)"/g))
      say(`packed manifest keeps "${match[1]}": "${match[2]}"`);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
      for (const name of privateNames) {
        // Test-only tools may stay as devDependencies; @lac/shared is bundled in and named nowhere.
        const isAllowed = field === 'devDependencies' && name !== '@lac/shared';
        if (!isAllowed && manifest[field]?.[name] !== undefined)
          say(`packed manifest's ${field} names the private ${name}`);
      }
    }
    for (const file of ['LICENSE', 'README.md']) if (!existsSync(join(unpacked, file))) say(`tarball has no ${file}`);
    for (const file of pointedFiles(manifest))
      if (!existsSync(join(unpacked, file))) say(`tarball has no ${file} (named in package.json)`);
    for (const field of ['repository', 'homepage', 'bugs', 'author', 'keywords', 'license']) {
      if (manifest[field] === undefined) say(`package.json has no "${field}"`);
    }
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (peer.startsWith('@lac/') && !/^>=0\.\d+\.0 <1$/.test(range)) {
        say(`peer range "${peer}": "${range}" does not follow the 0.x policy (">=0.N.0 <1", CONTRIBUTING.md)`);
      }
    }
    console.log(`${source.name}: packed ${tarball}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (problems.length > 0) {
  console.error(`\n${problems.length} problem(s) in the packed packages:\n- ${problems.join('\n- ')}`);
  process.exitCode = 1;
} else {
  console.log('every packed package is installable: no workspace: ranges, LICENSE and README present');
}
