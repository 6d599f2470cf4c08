// Helpers shared by the docs tests: where the built site lives, how to build it, and a tiny static
// server for it on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const docsDir = fileURLToPath(new URL('..', import.meta.url));
export const distDir = join(docsDir, 'dist');
export const rootDir = join(docsDir, '..', '..');

/** Runs the same steps as `pnpm build` (prepare-site, then vitepress build); throws with the output on failure. */
export function buildSite(): void {
  for (const args of [
    ['scripts/prepare-site.mjs'],
    [join(docsDir, 'node_modules/vitepress/bin/vitepress.js'), 'build', 'site'],
  ]) {
    const run = spawnSync(process.execPath, args, { cwd: docsDir, encoding: 'utf8', stdio: 'pipe' });
    if (run.status !== 0)
      throw new Error(`node ${args.join(' ')} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** The newest modification time among the files the site is built from. */
function newestSourceTime(): number {
  const sources = [
    ...walk(join(docsDir, 'site')).filter(
      (path) =>
        !path.includes(`${sep}api${sep}`) &&
        !path.includes(`${sep}generated${sep}`) &&
        !path.includes(`${sep}cache${sep}`) &&
        !path.endsWith(`${sep}changelog.md`),
    ),
    ...walk(join(docsDir, 'examples')),
    ...walk(join(docsDir, 'scripts')),
    ...readdirSync(join(rootDir, 'packages')).flatMap((name) => {
      const src = join(rootDir, 'packages', name, 'src');
      return existsSync(src) ? [src, ...walk(src)] : [];
    }),
    join(rootDir, 'BENCHMARKS.md'),
    join(rootDir, 'scripts', 'bench-figures.mjs'),
    ...walk(join(rootDir, '.changeset')),
    ...(existsSync(join(rootDir, 'benchmarks')) ? walk(join(rootDir, 'benchmarks')) : []),
  ];
  return Math.max(...sources.filter((path) => existsSync(path)).map((path) => statSync(path).mtimeMs));
}

/**
 * Builds the site unless dist/ holds a build newer than every source it is made from (turbo's `build`
 * makes one just before `test`; a standalone `vitest run` after an edit rebuilds).
 */
export function ensureSiteBuilt(): void {
  const builtAt = existsSync(join(distDir, 'index.html')) ? statSync(join(distDir, 'index.html')).mtimeMs : 0;
  if (process.env.LAC_DOCS_REBUILD === '1' || builtAt < newestSourceTime()) buildSite();
}

/** Every file under `dir`, as absolute paths. */
export function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** The file a URL path names in the built site, resolved as a static host would (x, x.html, x/index.html). */
export function resolveSitePath(urlPath: string): string | undefined {
  const decoded = decodeURIComponent(urlPath);
  const candidate = normalize(join(distDir, decoded));
  if (relative(distDir, candidate).startsWith('..')) return undefined; // outside the site
  for (const path of [candidate, `${candidate}.html`, join(candidate, 'index.html')]) {
    if (existsSync(path) && statSync(path).isFile()) return path;
  }
  return undefined;
}

/** Serves dist/ on 127.0.0.1 on a free port. */
export async function serveSite(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = resolveSitePath(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
    if (!path) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': contentTypes[extname(path)] ?? 'application/octet-stream' });
    response.end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A dist-relative path with forward slashes, for messages. */
export function siteRelative(path: string): string {
  return relative(distDir, path).split(sep).join('/');
}
