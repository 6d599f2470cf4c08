import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileTemplate } from '../src/template.js';
import { ensureBuilt, lac, tempDir } from './helpers.js';

beforeAll(ensureBuilt, 120_000);

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.dispose());

describe('replacement strings', () => {
  it('substitutes {} {.} {/} {//} {/.} {#} {%} per item', async () => {
    const result = await lac([
      '-k',
      '-j',
      '1',
      'echo',
      '{},{.},{/},{//},{/.},{#},{%}',
      ':::',
      'dir.d/file.tar.gz',
      'plain',
      '/abs/x.txt',
      '.hidden',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'dir.d/file.tar.gz,dir.d/file.tar,file.tar.gz,dir.d,file.tar,1,1',
      'plain,plain,plain,.,plain,2,1',
      '/abs/x.txt,/abs/x,x.txt,/abs,x,3,1',
      '.hidden,.hidden,.hidden,.,.hidden,4,1',
      '',
    ]);
  });

  it('appends the item when the template has no replacement string', async () => {
    const result = await lac(['-k', 'echo', 'item:', ':::', 'a', 'b']);
    expect(result.stdout).toBe('item: a\nitem: b\n');
  });

  it('keeps {%} between 1 and -j', async () => {
    const items = Array.from({ length: 12 }, (_, i) => String(i));
    const result = await lac(['-j', '3', 'echo', '{%}', ':::', ...items]);
    const slots = result.stdout.trim().split('\n').map(Number);
    expect(slots).toHaveLength(12);
    for (const slot of slots) expect(slot >= 1 && slot <= 3).toBe(true);
  });

  it('runs the template through /bin/sh when it has shell syntax, and directly when it has none', () => {
    expect(compileTemplate(['true', '{}']).isDirect).toBe(true);
    expect(compileTemplate(['gzip', '-9', '{}']).isDirect).toBe(true);
    expect(compileTemplate(['echo {} > {}.txt']).isDirect).toBe(false);
    expect(compileTemplate(['echo', '$HOME']).isDirect).toBe(false);
    expect(compileTemplate(['cd', '{}']).isDirect).toBe(false);
    expect(compileTemplate(['FOO=1', 'env']).isDirect).toBe(false);
    expect(compileTemplate(['convert', '-quality=90', '{}']).isDirect).toBe(true);
  });
});

describe('quoting: substituted values are data, never code', () => {
  const hostile = [
    'with space',
    "single'quote",
    'double"quote',
    'dollar $(touch MARKER)',
    'backtick `touch MARKER`',
    'semi; touch MARKER',
    'pipe | touch MARKER',
    'and && touch MARKER',
    '$HOME ${PATH}',
    'glob *',
    '',
    'tab\tinside',
  ];

  for (const [mode, template] of [
    ['spawned directly', ['echo', '{}']],
    ['through /bin/sh', ['echo {}; true']],
  ] as const) {
    it(`passes items with spaces, quotes, $, backticks and ; unchanged (${mode})`, async () => {
      dir = tempDir();
      expect(compileTemplate(template).isDirect).toBe(mode === 'spawned directly');
      const result = await lac(['-k', ...template], { cwd: dir.path, input: `${hostile.join('\n')}\n` });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(hostile.map((item) => `${item}\n`).join(''));
      expect(existsSync(join(dir.path, 'MARKER'))).toBe(false);
    });
  }

  it('quotes values in --dry-run output and runs nothing', async () => {
    dir = tempDir();
    const result = await lac(['--dry-run', 'touch', '{}', 'MARKER'], { cwd: dir.path, input: 'a b\n$(x)\n' });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("touch 'a b' MARKER\ntouch \\$\\(x\\) MARKER\n");
    expect(existsSync(join(dir.path, 'MARKER'))).toBe(false);
  });
});

describe('input sources', () => {
  it('reads NUL-separated items with -0', async () => {
    const result = await lac(['-0', '-k', 'echo', '[{}]'], { input: 'a\nb\0c d\0' });
    expect(result.stdout).toBe('[a\nb]\n[c d]\n');
  });

  it('reads items from -a FILE', async () => {
    dir = tempDir();
    const file = join(dir.path, 'items.txt');
    writeFileSync(file, 'x\ny\nz');
    const result = await lac(['-k', '-a', file, 'echo', '{}']);
    expect(result.stdout).toBe('x\ny\nz\n');
  });

  it('takes an empty line as an empty item and a missing final newline as a last item', async () => {
    const result = await lac(['-k', 'echo', '[{}]'], { input: 'a\n\nb' });
    expect(result.stdout).toBe('[a]\n[]\n[b]\n');
  });
});
