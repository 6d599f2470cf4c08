// A default the prose quotes for an option (a guide page, a README) is the one the option's TSDoc
// `@default` gives, so the pages cannot drift from the code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { PACKAGE_DIRS } from './exports.js';
import { docsDir, rootDir, walk } from './site.js';

/** Every `@default` of an interface property in the packages' sources, by property name. */
function documentedDefaults(): Map<string, Set<string>> {
  const defaults = new Map<string, Set<string>>();
  for (const dir of PACKAGE_DIRS) {
    const srcDir = join(rootDir, 'packages', dir, 'src');
    for (const name of readdirSync(srcDir).filter((file) => file.endsWith('.ts'))) {
      const file = join(srcDir, name);
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isPropertySignature(node) && ts.isIdentifier(node.name)) {
          for (const tag of ts.getJSDocTags(node).filter((tag) => tag.tagName.text === 'default')) {
            const text = ts.getTextOfJSDocComment(tag.comment);
            if (text) {
              const values = defaults.get(node.name.text) ?? new Set();
              values.add(normalize(text));
              defaults.set(node.name.text, values);
            }
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
  }
  return defaults;
}

/** A default as a comparable value: its first phrase, without code marks, digit separators or a unit. */
function normalize(value: string): string {
  const phrase = value
    .split(/ \(|, or | where /)[0]!
    .replace(/`/g, '')
    .replace(/(\d)[_,](?=\d{3}\b)/g, '$1')
    .replace(/(\d) ?ms$/, '$1')
    .replace(/^the run's /, '')
    .trim();
  return phrase === 'none' ? 'undefined' : phrase;
}

interface Claim {
  where: string;
  name: string;
  value: string;
}

/** "`name` (..., default X)", "(`name`, default X)" and "#### `name`" followed by "default: X" in a README. */
function claims(file: string): Claim[] {
  const text = readFileSync(file, 'utf8');
  const where = (index: number) => `${file.slice(rootDir.length + 1)}:${text.slice(0, index).split('\n').length}`;
  const found: Claim[] = [];
  const defaultIn = (words: string) => /\bdefault(?:s to|:)? `?([^`,;)]+?)`?(?:[,;)]|\.?$|\.\s)/m.exec(words)?.[1];
  for (const match of text.matchAll(/(?:`(\w+)` )?\(((?:[^()]|\([^()]*\))*)\)/g)) {
    const name = match[1] ?? /^`(\w+)`,/.exec(match[2]!)?.[1];
    const value = name === undefined ? undefined : defaultIn(match[2]!);
    if (name !== undefined && value !== undefined) found.push({ where: where(match.index), name, value });
  }
  for (const match of text.matchAll(/^#{3,4} `?(\w+)`?[^\n]*\n((?:[^\n#][^\n]*\n|\n){1,4})/gm)) {
    const value = /^(?:[^\n]*, )?[Dd]efault: `?([^`\n]+?)`?(?:[,.]|\s*$)/m.exec(match[2]!)?.[1];
    if (value !== undefined) found.push({ where: where(match.index), name: match[1]!, value });
  }
  return found;
}

const documents = [
  ...PACKAGE_DIRS.map((dir) => join(rootDir, 'packages', dir, 'README.md')),
  ...walk(join(docsDir, 'site')).filter(
    (path) => path.endsWith('.md') && !path.includes('/api/') && !path.includes('/generated/'),
  ),
];

describe('defaults in the prose', () => {
  const defaults = documentedDefaults();

  test('the sources document defaults, and the pages quote some of them', () => {
    expect(defaults.get('leaseMs')).toEqual(new Set(['30000']));
    const quoted = documents.flatMap(claims).filter((claim) => defaults.has(claim.name));
    expect(quoted.length).toBeGreaterThan(10);
    // Both forms are read: a README's option headings and a page's parentheses.
    expect(quoted.some((claim) => claim.where.startsWith('packages/redis/README.md') && claim.name === 'pollMs')).toBe(
      true,
    );
    expect(quoted.some((claim) => claim.where.startsWith('apps/docs/site/guide/') && claim.name === 'leaseMs')).toBe(
      true,
    );
  });

  test('every default a guide page or README quotes for an option is its TSDoc @default', () => {
    const wrong = documents
      .flatMap(claims)
      .filter((claim) => defaults.has(claim.name) && !defaults.get(claim.name)!.has(normalize(claim.value)))
      .map(
        (claim) =>
          `${claim.where}: \`${claim.name}\` default ${claim.value}, the source says ${[...defaults.get(claim.name)!].join(' or ')}`,
      );
    expect(wrong).toEqual([]);
  });
});
