// Link check over the built site: every internal href/src in every built HTML file resolves to a file
// that exists in dist/.
import { readFileSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import { describe, expect, test } from 'vitest';
import { distDir, resolveSitePath, siteRelative, walk } from './site.js';

const htmlFiles = walk(distDir).filter((path) => path.endsWith('.html'));

/** The URL path of a built page, as a browser would see it (dist/guide/core.html -> /guide/core.html). */
function urlPathOf(file: string): string {
  return `/${siteRelative(file)}`;
}

/** Internal link targets in a page: href/src attributes that are not external, not data:, not pure #fragments. */
function internalTargets(html: string): string[] {
  const targets: string[] = [];
  for (const match of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
    const value = match[1]!.replace(/&amp;/g, '&');
    if (value === '' || value.startsWith('#')) continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(value) || value.startsWith('//')) continue; // http:, mailto:, data:, ...
    targets.push(value);
  }
  return targets;
}

describe('built site link check', () => {
  test('the build produced every page the docs promise', () => {
    const pages = htmlFiles.map(siteRelative);
    for (const page of [
      'index.html',
      'getting-started.html',
      'the-original-problem.html',
      'timeline.html',
      'comparison.html',
      'guide/core.html',
      'guide/node-streams.html',
      'guide/web-streams.html',
      'guide/cli.html',
      'guide/sharing-a-limit.html',
      'api/index.html',
      'api/core/index.html',
      'changelog.html',
    ]) {
      expect(pages).toContain(page);
    }
  });

  test('every internal href and src resolves to a file in the built site', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of htmlFiles) {
      const pagePath = urlPathOf(file);
      for (const target of internalTargets(readFileSync(file, 'utf8'))) {
        const path = new URL(target, `http://site.invalid${pagePath}`).pathname;
        checked++;
        if (resolveSitePath(path) === undefined) broken.push(`${siteRelative(file)} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
    // Guards against a vacuous pass (say, a regex that stopped matching): the site has hundreds of links.
    expect(checked).toBeGreaterThan(200);
  });

  test('the checker itself flags a dead link', () => {
    const targets = internalTargets('<a href="./nope.html">x</a><a href="https://example.com/">y</a><img src="#z">');
    expect(targets).toEqual(['./nope.html']);
    const path = new URL(targets[0]!, `http://site.invalid${posix.join('/', dirname('guide/core.html'), 'core.html')}`)
      .pathname;
    expect(resolveSitePath(path)).toBeUndefined();
    expect(resolveSitePath('/guide/core.html')).toBeDefined();
    expect(resolveSitePath('/../package.json')).toBeUndefined();
  });
});
