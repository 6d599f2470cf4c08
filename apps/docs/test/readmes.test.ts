// The READMEs are what a stranger copies first: every TypeScript example in them type-checks against the
// packages' current API, and an adapter documents the options it takes from @lac/core with core's types.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { docsDir, rootDir, walk } from './site.js';

// packages/redis/README.md is left out until its examples type-check as written (see the report in
// the commit that added this test): `new Redis(process.env.REDIS_URL)` and an untyped `({ signal })`.
const READMES = [
  'README.md',
  ...['core', 'node-streams', 'web-streams', 'cli'].map((dir) => `packages/${dir}/README.md`),
];
const readme = (file: string) => readFileSync(join(rootDir, file), 'utf8');

interface Snippet {
  /** `packages/core/README.md:15`: the README and the line of the opening fence. */
  where: string;
  code: string;
}

function tsSnippets(file: string): Snippet[] {
  const text = readme(file);
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => ({
    where: `${file}:${text.slice(0, match.index).split('\n').length}`,
    code: match[1]!,
  }));
}

/** The names a package's `src/index.ts` exports, values and types apart. */
function exportsOf(dir: string): { values: string[]; types: string[] } {
  const code = readFileSync(join(rootDir, 'packages', dir, 'src', 'index.ts'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  const names = { values: [] as string[], types: [] as string[] };
  for (const match of code.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    for (const entry of match[2]!
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean)) {
      const name = entry
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()!
        .trim();
      (match[1] || entry.startsWith('type ') ? names.types : names.values).push(name);
    }
  }
  return names;
}

interface Given {
  declaration: string;
  /** Only for the snippets this matches (default: those that use the name). */
  when?: RegExp;
}

/**
 * What the README examples leave to the reader (the URLs, the app's own functions): declared with
 * plain types, so the check is about our API. A snippet gets only the givens it uses and does not declare.
 */
const GIVENS: Record<string, Given> = {
  urls: { declaration: 'declare const urls: string[];' },
  paths: { declaration: 'declare const paths: string[];' },
  ids: { declaration: 'declare const ids: number[];' },
  users: { declaration: 'declare const users: number[];' },
  orders: { declaration: 'declare const orders: number[];' },
  exists: { declaration: 'declare function exists(path: string): Promise<boolean>;' },
  get: { declaration: 'declare function get(url: string): Promise<Response>;' },
  crawl: { declaration: 'declare function crawl(url: string): Promise<string[]>;' },
  fetchJson: { declaration: 'declare function fetchJson(id: number, signal: AbortSignal): Promise<unknown>;' },
  isTransient: { declaration: 'declare function isTransient(error: unknown): boolean;' },
  getUser: { declaration: 'declare function getUser(id: number): Promise<{ name: string }>;' },
  getOrder: { declaration: 'declare function getOrder(id: number): Promise<{ total: number }>;' },
  drainAll: { declaration: 'declare function drainAll(results: AsyncIterable<unknown>): Promise<void>;' },
  results: { declaration: "declare const results: import('@lac/core').LimitedIterator<unknown>;" },
  errorRate: { declaration: 'declare const errorRate: number;' },
  status: { declaration: 'declare const status: number;' },
  // core's README names a RedisSlots value so (`allOf(createSharedLimit(4), redisSlots)`).
  redisSlots: {
    declaration: "declare const redisSlots: import('@lac/redis').RedisSlots;",
    when: /allOf\(.*\bredisSlots\)/,
  },
  Deno: {
    declaration:
      'declare const Deno: { readTextFile(path: string): Promise<string>; open(path: string, options: object): Promise<{ writable: WritableStream<Uint8Array> }> };',
  },
  // Deno, Node and Firefox have `ReadableStream.from`; TypeScript's DOM library does not yet.
  ReadableStream: {
    declaration:
      'declare const ReadableStream: typeof globalThis.ReadableStream & { from<T>(source: Iterable<T> | AsyncIterable<T>): globalThis.ReadableStream<T> };',
    when: /\bReadableStream\.from\(/,
  },
};

const packageExports = (['core'] as const).map((dir) => ({ module: `@lac/${dir}`, ...exportsOf(dir) }));

/** Whether the snippet itself imports or declares `name`. */
function declares(code: string, name: string): boolean {
  const imported = [...code.matchAll(/^import\s+(?:type\s+)?([\s\S]*?)\s+from\s/gm)].some((match) =>
    new RegExp(`\\b${name}\\b`).test(match[1]!),
  );
  return imported || new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b`).test(code);
}

/** The snippet as a module, after the givens and the @lac/core imports it uses without writing them. */
function asModule(code: string): { text: string; preambleLines: number } {
  const uses = (name: string) => new RegExp(`(?<![.\\w$])${name}\\b`).test(code) && !declares(code, name);
  const given = Object.entries(GIVENS).filter(([name, { when }]) => uses(name) && (when?.test(code) ?? true));
  const preamble = [
    ...given.map(([, { declaration }]) => declaration),
    ...packageExports.flatMap(({ module, values, types }) => {
      const used = [...values.filter(uses), ...types.filter(uses).map((name) => `type ${name}`)].filter(
        (name) => !given.some(([givenName]) => givenName === name),
      );
      return used.length > 0 ? [`import { ${used.join(', ')} } from '${module}';`] : [];
    }),
  ];
  return { text: `${[...preamble, code].join('\n')}\nexport {};\n`, preambleLines: preamble.length };
}

/** Type-checks the snippets together as virtual files beside this test; returns one message per error. */
function typeCheck(snippets: Snippet[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(docsDir, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  )!;
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    // Snippets are read on their own, not as a whole project: their inputs are typed by the givens.
    noUnusedLocals: false,
    paths: { ...config.options.paths, 'npm:@lac/web-streams': ['../../packages/web-streams/src/index.ts'] },
  };
  const virtual = new Map<string, { snippet: Snippet; preambleLines: number; text: string }>();
  snippets.forEach((snippet, index) => {
    const { text, preambleLines } = asModule(snippet.code);
    virtual.set(join(docsDir, 'test', `__readme-snippet-${index}.ts`), { snippet, preambleLines, text });
  });
  // A module the node-streams README imports and the docs do not install.
  const split2 = join(docsDir, 'test', '__readme-split2.d.ts');
  const split2Text = "declare module 'split2' { export default function split2(): import('node:stream').Transform; }\n";
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => virtual.has(file) || file === split2 || fileExists(file);
  host.readFile = (file) => virtual.get(file)?.text ?? (file === split2 ? split2Text : readFile(file));
  host.getSourceFile = (file, language, ...rest) => {
    const text = virtual.get(file)?.text ?? (file === split2 ? split2Text : undefined);
    return text === undefined ? getSourceFile(file, language, ...rest) : ts.createSourceFile(file, text, language);
  };
  const program = ts.createProgram([...virtual.keys(), split2], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file && virtual.has(diagnostic.file.fileName))
    .map((diagnostic) => {
      const { snippet, preambleLines } = virtual.get(diagnostic.file!.fileName)!;
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const [file, fence] = snippet.where.split(':');
      const readmeLine = Number(fence) + 1 + line - preambleLines;
      return `${file}:${readmeLine}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
}

describe('README examples', () => {
  const snippets = READMES.flatMap(tsSnippets);
  // A stale example, checked in the same program: the check must catch an option value of the wrong type.
  const stale: Snippet = {
    where: 'stale.md:1',
    code: "import { limitedMap } from '@lac/core';\nlimitedMap(urls, 8, get, { rate: { limit: 4, interval: 1000 } });\n",
  };
  let errors: string[] | undefined;
  const check = () => (errors ??= typeCheck([...snippets, stale]));

  test('every TypeScript example in a README type-checks against the current API, as written', () => {
    expect(snippets.length).toBeGreaterThan(15);
    expect(check().filter((error) => !error.startsWith('stale.md:'))).toEqual([]);
  });

  test('the check catches an example that no longer fits the API (an option value of the wrong type)', () => {
    const caught = check().filter((error) => error.startsWith('stale.md:'));
    expect(caught).toHaveLength(1);
    expect(caught[0]).toMatch(/^stale\.md:3: [\s\S]*RateLimit/);
  });
});

/** `#### \`name\`` option headings and the code span that opens their `Type:` line. */
function optionTypes(file: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of readme(file).matchAll(/^#### `(\w+)`[^\n]*\nType: `([^`]+)`/gm)) {
    types.set(match[1]!, match[2]!);
  }
  return types;
}

describe('README options', () => {
  const core = optionTypes('packages/core/README.md');

  test("an adapter's README gives each option it shares with @lac/core core's type", () => {
    expect([...core.keys()]).toEqual(expect.arrayContaining(['ordered', 'buffer', 'signal', 'timeout', 'rate']));
    for (const dir of ['node-streams', 'web-streams']) {
      const adapter = optionTypes(`packages/${dir}/README.md`);
      const shared = [...adapter.keys()].filter((name) => core.has(name));
      expect(shared, dir).toEqual(expect.arrayContaining(['ordered', 'buffer', 'signal', 'timeout', 'rate']));
      for (const name of shared)
        expect(`${dir} ${name}: ${adapter.get(name)}`).toBe(`${dir} ${name}: ${core.get(name)}`);
    }
  });
});

describe('what the docs say the adapters import', () => {
  test("no README or page says the adapters use only core's public entry while one imports @lac/core/internal", () => {
    const usesInternal = ['node-streams', 'web-streams', 'redis', 'cli'].filter((dir) =>
      walk(join(rootDir, 'packages', dir, 'src')).some((file) =>
        /from '@lac\/core\/internal'/.test(readFileSync(file, 'utf8')),
      ),
    );
    expect(usesInternal.length).toBeGreaterThan(0);
    const documents = [
      ...['README.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md', ...READMES].map((file) => join(rootDir, file)),
      ...walk(join(docsDir, 'site')).filter(
        (path) => path.endsWith('.md') && !path.includes('/api/') && !path.includes('/generated/'),
      ),
    ];
    const claim = /\bpublic (?:entry|API) only\b|\bonly (?:core's|`@lac\/core`'s) public (?:entry|API)\b/i;
    const claiming = [...new Set(documents)].filter((file) =>
      claim.test(readFileSync(file, 'utf8').replace(/\s+/g, ' ')),
    );
    expect(claiming.map((file) => file.slice(rootDir.length))).toEqual([]);
  });
});
