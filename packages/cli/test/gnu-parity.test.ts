import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, ensureBuilt, gnuParallel, lac, requireGnuParallel, type Result, tempDir } from './helpers.js';

beforeAll(ensureBuilt, 120_000);

// The side-by-side tests need GNU parallel: scripts/provision.mjs installs it (apt-get install parallel).
// Without it they fail, saying so (requireGnuParallel), rather than pass unchecked.

/** Each side runs in its own copy of these files, so outputs written there (--results, --joblog) can be compared. */
const FILES: Record<string, string> = {
  'abc.txt': 'a\nb\nc\n',
  'nums.txt': '1\n2\n3\n',
  'cols.tsv': 'a\tb\tc\nd\te\tf\n',
  'lines.txt': `${Array.from({ length: 3000 }, (_, i) => i + 1).join('\n')}\n`,
};

interface Case {
  readonly args: readonly string[];
  readonly input?: string;
  /** What is compared besides the exit status: stdout by default. */
  readonly compare?: ReadonlyArray<'stdout' | 'sorted' | 'stderr' | 'tree' | 'joblogCommands'>;
  /** A first run (same arguments style) whose files the compared run sees: --resume. */
  readonly before?: readonly string[];
}

const seq = (count: number) => Array.from({ length: count }, (_, i) => String(i + 1));

const CASES: Record<string, Case> = {
  ':::: reads an argument file': { args: ['-k', 'echo', '{}', '::::', 'abc.txt'] },
  ':::: - reads stdin': { args: ['-k', 'echo', '{}', '::::', '-'], input: 'x\ny\n' },
  'two ::: sources make a cross product, the first outermost': {
    args: ['-k', 'echo', '{1}-{2}', ':::', 'a', 'b', ':::', '1', '2', '3'],
  },
  'three sources, no replacement string (all arguments appended)': {
    args: ['-k', 'echo', ':::', 'a', 'b', ':::', '1', '2', ':::', 'x', 'y'],
  },
  '::: and :::: mixed': { args: ['-k', 'echo', ':::', 'x', 'y', '::::', 'nums.txt'] },
  '-a FILE with :::': { args: ['-k', '-a', 'abc.txt', 'echo', ':::', '1', '2'] },
  ':::+ links to the source before': { args: ['-k', 'echo', '{1}={2}', ':::', 'a', 'b', 'c', ':::+', '1', '2', '3'] },
  ':::+ with a shorter source: the shortest wins': {
    args: ['-k', 'echo', '{1}={2}', ':::', 'a', 'b', 'c', ':::+', '1', '2'],
  },
  '::::+ links files': { args: ['-k', 'echo', '{1}{2}', '::::', 'abc.txt', '::::+', 'nums.txt'] },
  'linked and crossed together': { args: ['-k', 'echo', ':::', 'a', 'b', ':::+', '1', '2', ':::', 'x', 'y'] },
  '{n.} {n/} {n//} {n/.} per position': {
    args: ['-k', 'echo', '{1.}', '{1/}', '{2//}', '{2/.}', ':::', 'd/a.x', ':::', 'e/f/b.y'],
  },
  '{.} and {/} over several arguments apply to each': {
    args: ['-k', 'echo', '{.}', '{/}', ':::', 'a.x', ':::', 'd/b.y'],
  },
  'a position past the last argument is empty': { args: ['-k', 'echo', '[{3}]', ':::', 'a', ':::', 'b'] },
  '{#} over a cross product': { args: ['-k', 'echo', '{#}', '{}', ':::', 'a', 'b', ':::', '1', '2'] },
  'arguments with quotes, spaces and $ stay data': {
    args: ['-k', 'echo', ':::', "it's", 'a  b', ':::', '$HOME', '`x`'],
  },
  '--tag over several sources': { args: ['-k', '--tag', 'echo', 'x', ':::', 'a', 'b', ':::', '1'] },
  '--colsep splits a file into columns': { args: ['-k', '--colsep', '\\t', 'echo', '{3}', '{1}', '::::', 'cols.tsv'] },
  '--colsep with {}': { args: ['-k', '--colsep', '\\t', 'echo', '[{}]', '::::', 'cols.tsv'] },
  '--colsep on stdin, a regular expression': {
    args: ['-k', '--colsep', ',+', 'echo', '{3}{1}'],
    input: 'a,,b,c\nd,e,f\n',
  },
  '-I replaces STR, {} is then text': { args: ['-k', '-I', '@@', 'echo', '@@', '{}', ':::', 'a', 'b'] },
  '-I keeps {.}': { args: ['-k', '-I', 'XX', 'echo', 'XX', '{.}', ':::', 'a.b'] },
  '-n 2 passes two arguments per job': { args: ['-k', '-n', '2', 'echo', ':::', 'a', 'b', 'c', 'd', 'e'] },
  '-n 2 with {} around them': { args: ['-k', '-n', '2', 'echo', '[{}]', ':::', 'a b', 'c', 'd'] },
  '-N 2 with {1} {2}, the last job short': { args: ['-k', '-N', '2', 'echo', '{2}+{1}', ':::', 'a', 'b', 'c'] },
  '-N 0 runs once per item with no argument': { args: ['-k', '-N', '0', 'echo', 'x', ':::', 'a', 'b'] },
  '-n 3 from stdin': { args: ['-k', '-n', '3', 'echo'], input: `${seq(7).join('\n')}\n` },
  '-m with -j 1: every argument in one job': { args: ['-k', '-j', '1', '-m', 'echo', '<{}>', ':::', '1', '2', '3'] },
  '-m with -j 3 spreads the arguments evenly': { args: ['-k', '-j', '3', '-m', 'echo', ':::', ...seq(7)] },
  '-X repeats the word around {}': { args: ['-k', '-j', '1', '-X', 'echo', 'pre{}post', 'x', ':::', '1', '2', '3'] },
  '-X from stdin with -j 4': { args: ['-k', '-j', '4', '-X', 'echo', '<{}>'], input: `${seq(10).join('\n')}\n` },
  '-m -n 3': { args: ['-k', '-j', '1', '-m', '-n', '3', 'echo'], input: `${seq(10).join('\n')}\n` },
  '-d , splits stdin at commas': { args: ['-k', '-d', ',', 'echo', '[{}]'], input: 'a,b c,d' },
  '-d \\t': { args: ['-k', '-d', '\\t', 'echo', '[{}]'], input: 'a\tb\t' },
  '-0': { args: ['-k', '-0', 'echo', '[{}]'], input: 'a\nb\0c\0' },
  '-j 100%: one job per CPU': { args: ['-j', '100%', 'sleep 0.3; echo {%}', ':::', ...seq(4)], compare: ['sorted'] },
  '-j 200%': { args: ['-j', '200%', 'sleep 0.3; echo {%}', ':::', ...seq(8)], compare: ['sorted'] },
  '-j +1': { args: ['-j', '+1', 'sleep 0.3; echo {%}', ':::', ...seq(6)], compare: ['sorted'] },
  '-j -1': { args: ['-j', '-1', 'sleep 0.3; echo {%}', ':::', ...seq(4)], compare: ['sorted'] },
  '--halt soon,done=2': {
    args: ['-j', '1', '-k', '--halt', 'soon,done=2', 'echo {}; exit {}', ':::', '0', '4', '0', '0'],
  },
  '--halt now,success=50%': {
    args: ['-j', '1', '-k', '--halt', 'now,success=50%', 'echo {}; exit {}', ':::', '3', '0', '0', '5'],
  },
  '--halt now,done=50%': {
    args: ['-j', '1', '-k', '--halt', 'now,done=50%', 'echo {}; exit {}', ':::', '0', '3', '0', '0'],
  },
  '--halt soon,fail=1 with -j 2': {
    args: ['-j', '1', '-k', '--halt', 'soon,fail=1', 'echo {}; exit {}', ':::', '0', '7', '0'],
  },
  '-u prints as it comes': { args: ['-j', '1', '-u', 'printf', '{}-', ':::', 'a', 'b'] },
  '-v prints each command before its output': { args: ['-k', '-j', '1', '-v', 'echo', ':::', 'a', 'b c'] },
  '-t prints each command on stderr': {
    args: ['-k', '-j', '1', '-t', 'echo', ':::', 'a', 'b'],
    compare: ['stdout', 'stderr'],
  },
  '--shuf runs every job once': { args: ['--shuf', 'echo', ':::', ...seq(20)], compare: ['sorted'] },
  '--results DIR writes GNU parallel tree': {
    args: ['--results', 'out', 'echo', ':::', 'a', 'b/c', ':::', '1', '2'],
    compare: ['stdout', 'tree'],
  },
  '--results with stderr and a failing job': {
    args: ['--results', 'out', 'echo {} >&2; exit {}', ':::', '0', '3'],
    compare: ['stdout', 'tree'],
  },
  '--resume skips the jobs in the joblog': {
    before: ['-k', '--joblog', 'log', 'echo', ':::', '1', '2'],
    args: ['-k', '--resume', '--joblog', 'log', 'echo', ':::', '1', '2', '3', '4'],
  },
  '--resume-failed runs the failed jobs again': {
    before: ['-k', '--joblog', 'log', 'echo {}; test {} != 2', ':::', '1', '2', '3'],
    args: ['-k', '--resume-failed', '--joblog', 'log', 'echo {}; test {} != 2', ':::', '1', '2', '3', '4'],
  },
  '--delay waits between starts, output unchanged': {
    args: ['-j', '2', '--delay', '0.1', 'echo', ':::', 'a', 'b', 'c'],
    compare: ['sorted'],
  },
  '--delay with -k and a failing job': { args: ['-k', '--delay', '0.05', 'echo {}; exit {}', ':::', '0', '2', '0'] },
  '--pipe --block 100: blocks cut after the last newline that fits': {
    args: ['-k', '--pipe', '--block', '100', 'wc', '-c'],
    input: `${seq(200).join('\n')}\n`,
  },
  '--pipe --block 10: blocks of a few records': {
    args: ['-k', '--pipe', '--block', '10', 'wc', '-c'],
    input: `${seq(100).join('\n')}\n`,
  },
  '--pipe --block 1k is 1000 bytes': {
    args: ['-k', '--pipe', '--block', '1k', 'wc', '-c'],
    input: `${seq(3000).join('\n')}\n`,
  },
  '--pipe --block 1K is 1024 bytes': {
    args: ['-k', '--pipe', '--block', '1K', 'wc', '-c'],
    input: `${seq(3000).join('\n')}\n`,
  },
  '--pipe: every record reaches exactly one job': {
    args: ['-j', '3', '--pipe', '--block', '64', 'cat'],
    input: `${seq(500).join('\n')}\n`,
    compare: ['sorted'],
  },
  '--pipe: a last record without a newline': {
    args: ['-k', '--pipe', '--block', '5', 'wc', '-c'],
    input: 'ab\ncd\nef\ngh',
  },
  '--pipe --dry-run: the command as is, once per block': {
    args: ['--dry-run', '--pipe', '--block', '4', 'wc', '-l'],
    input: `${seq(4).join('\n')}\n`,
  },
  '--pipe --joblog - shows the command as is': {
    args: ['-k', '--pipe', '--block', '4', '--joblog', '-', 'cat >/dev/null'],
    input: `${seq(4).join('\n')}\n`,
    compare: ['joblogCommands'],
  },
  '--pipe: no input runs no job': { args: ['--pipe', 'echo', 'ran'], input: '' },
  '--pipe with {#} and failing jobs': {
    args: ['-k', '-j', '2', '--pipe', '--block', '60', 'echo {#}; wc -l; exit 2'],
    input: `${seq(100).join('\n')}\n`,
  },
  '--pipe-part -a FILE --block 100': { args: ['-k', '--pipe-part', '-a', 'lines.txt', '--block', '100', 'wc', '-c'] },
  '--pipe-part --block 1k': { args: ['-k', '--pipe-part', '-a', 'lines.txt', '--block', '1k', 'wc', '-c'] },
  '--pipe-part default: 10 blocks per job slot': {
    args: ['-k', '-j', '2', '--pipe-part', '-a', 'lines.txt', 'wc', '-c'],
  },
  '--pipe-part --block -2: 2 blocks per job slot, :::: FILE': {
    args: ['-k', '-j', '3', '--pipe-part', '--block', '-2', 'wc', '-c', '::::', 'lines.txt'],
  },
  '--pipe-part: every record reaches exactly one job': {
    args: ['-j', '3', '--pipe-part', '--block', '300', '-a', 'lines.txt', 'cat'],
    compare: ['sorted'],
  },
  '--memfree with room: every job runs': { args: ['-k', '--memfree', '1M', 'echo {}; exit {}', ':::', '0', '1', '0'] },
  '--load with room: every job runs': { args: ['-k', '--load', '10000', 'echo', ':::', 'a', 'b'] },
  '--load N% of the CPUs': { args: ['-k', '--load', '100000%', 'echo', ':::', 'a', 'b'] },
  '--memfree and --load with --pipe': {
    args: ['-k', '--memfree', '1k', '--load', '10000', '--pipe', '--block', '10', 'wc', '-l'],
    input: `${seq(20).join('\n')}\n`,
  },
  '--eta: stdout and exit status unchanged': {
    args: ['-k', '-j', '2', '--eta', 'echo {}; exit {}', ':::', '0', '3', '0'],
  },
  '--progress: stdout and exit status unchanged': {
    args: ['-k', '-j', '2', '--progress', 'echo', ':::', 'a', 'b', 'c'],
  },
  '--eta with --pipe is refused': {
    args: ['-k', '-j', '2', '--eta', '--pipe', '--block', '20', 'wc', '-l'],
    input: `${seq(30).join('\n')}\n`,
  },
  // Jobs of 0.5 s against a limit of 1.5 s: a loaded machine may stretch a 0.1 s job past three times the
  // median (a 0.1 s version of this row failed so once), never a 0.5 s one by a whole second.
  '--timeout 300% stops a job far slower than the median': {
    args: ['-k', '-j', '1', '--timeout', '300%', 'sleep {}; echo {}', ':::', '0.5', '0.5', '0.5', '0.5', '30'],
  },
};

/** Every file under `root` with its content, paths relative to it. */
function tree(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else files[`${prefix}${name}`] = readFileSync(path, 'latin1');
    }
  };
  walk(root, '');
  return files;
}

const dirs: Array<ReturnType<typeof tempDir>> = [];
afterAll(() => {
  for (const dir of dirs) dir.dispose();
});

function workDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir.path, name), text);
  return dir.path;
}

async function runSide(
  run: (args: readonly string[], options: { input?: string; cwd: string }) => Promise<Result>,
  testCase: Case,
) {
  const cwd = workDir();
  if (testCase.before !== undefined) await run(testCase.before, { cwd });
  const result = await run(testCase.args, { cwd, ...(testCase.input === undefined ? {} : { input: testCase.input }) });
  const seen: Record<string, unknown> = { code: result.code };
  for (const what of testCase.compare ?? ['stdout']) {
    if (what === 'stdout') seen.stdout = result.stdout;
    if (what === 'stderr') seen.stderr = result.stderr;
    if (what === 'sorted') seen.sorted = result.stdout.split('\n').sort();
    if (what === 'tree') seen.tree = tree(join(cwd, 'out'));
    // The joblog's Command column (the 9th), its times left out.
    if (what === 'joblogCommands') seen.joblogCommands = result.stdout.split('\n').map((line) => line.split('\t')[8]);
  }
  return seen;
}

describe('GNU parallel parity: the same arguments give the same output and exit status', () => {
  for (const [name, testCase] of Object.entries(CASES)) {
    it(name, async () => {
      requireGnuParallel();
      const ours = await runSide(lac, testCase);
      const theirs = await runSide(gnuParallel, testCase);
      expect(ours).toEqual(theirs);
    }, 30_000);
  }
});

describe('--eta and --progress on stderr: the shape of GNU parallel', () => {
  const HEADER =
    /\nComputers \/ CPU cores \/ Max jobs to run\n1:local \/ \d+ \/ 2\n\nComputer:jobs running\/jobs completed\/%of started jobs\/Average seconds to complete\n/;
  for (const [option, last] of [
    ['--progress', /^local:0\/3\/100%\/\d+\.\ds $/],
    ['--eta', /^ETA: \d+s Left: 0 AVG: \d+\.\d\ds {2}local:0\/3\/100%\/\d+\.\ds $/],
  ] as const) {
    it(`${option}: the same header, then lines redrawn with \\r, the last one all done, then a newline`, async () => {
      requireGnuParallel();
      const args = ['-j', '2', option, 'echo', ':::', 'a', 'b', 'c'];
      const ours = await lac(args);
      expect(ours.code).toBe(0);
      expect(ours.stderr).toMatch(HEADER);
      expect(ours.stderr.endsWith('\n')).toBe(true);
      const lines = ours.stderr.replace(HEADER, '').trimEnd().split('\r');
      expect(lines[0]).toBe('');
      expect(`${lines.at(-1)} `.replace(/ {2}$/, ' ')).toMatch(last);
      // GNU parallel's own lines race with its header when jobs are this fast: only their content is compared.
      const theirs = await gnuParallel(args);
      expect(theirs.code).toBe(0);
      expect(theirs.stderr).toContain('Computers / CPU cores / Max jobs to run\n1:local / ');
      expect(theirs.stderr.split('\r').some((line) => last.test(`${line.trimEnd()} `))).toBe(true);
    }, 30_000);
  }
});

describe('what lac refuses or warns about', () => {
  for (const option of ['--pipepart', '--sshlogin']) {
    it(`refuses GNU parallel's ${option} by name, exit 255, running nothing`, async () => {
      const result = await lac([option, '1', 'echo', ':::', 'a']);
      expect(result.code).toBe(255);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `lac: ${option} is a GNU parallel option that lac does not support (see the option table in lac's README)\n`,
      );
    });
  }

  for (const [what, args, message] of [
    ['-n with two sources', ['-n', '2', 'echo', ':::', 'a', ':::', 'b'], /-n, -N, -m and -X take one input source/],
    ['--resume without --joblog', ['--resume', 'echo', ':::', 'a'], /--resume needs --joblog FILE/],
    ['a two-character -d', ['-d', 'ab', 'echo', ':::', 'a'], /-d, --delimiter <delim>' argument 'ab' is invalid/],
    [
      '-u with --line-buffer',
      ['-u', '--line-buffer', 'echo', ':::', 'a'],
      /use only one of -u, --line-buffer and --results/,
    ],
    ['{-1}', ['echo', '{-1}', ':::', 'a'], /`\{-1\}` is GNU parallel syntax that lac does not support/],
    ['--block without --pipe', ['--block', '10', 'echo', ':::', 'a'], /--block needs --pipe or --pipe-part/],
    ['--pipe with -n', ['--pipe', '-n', '2', 'wc'], /--pipe does not take -n, -N, -m, -X, --colsep or --shuf/],
    [
      '--pipe with ::: items',
      ['--pipe', 'wc', ':::', 'a'],
      /--pipe reads stdin: use --pipe-part for a -a or :::: file, and no ::: items/,
    ],
    [
      '--pipe with -a (GNU parallel would ignore the file)',
      ['--pipe', '-a', 'x', 'wc'],
      /--pipe reads stdin: use --pipe-part/,
    ],
    ['--pipe-part without a file', ['--pipe-part', 'wc'], /--pipe-part needs one file: -a FILE or :::: FILE/],
    ['a --block that is not a size', ['--pipe', '--block', '1x', 'wc'], /--block <size>' argument '1x' is invalid/],
  ] as const) {
    it(`refuses ${what} with one line and exit 255`, async () => {
      const result = await lac(args);
      expect(result.code).toBe(255);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  }

  it('warns once when it reads items from a terminal, and still runs them', () => {
    // `script` gives lac a terminal as stdin; the Ctrl-D typed there ends the input.
    const output = execFileSync('/usr/bin/script', ['-qec', `${process.execPath} ${bin} -k echo got`, '/dev/null'], {
      input: 'hello\n\x04',
      encoding: 'utf8',
    });
    expect(output.match(/lac: warning: input is read from the terminal/g)).toHaveLength(1);
    expect(output).toContain('got hello');
  });

  it('does not warn when stdin is a pipe', async () => {
    const result = await lac(['echo'], { input: 'a\n' });
    expect(result).toMatchObject({ code: 0, stdout: 'a\n', stderr: '' });
  });

  it('takes a -j percentage that rounds to 0 as one job', async () => {
    const result = await lac(['-j', '1%', 'echo', ':::', 'a']);
    expect(result).toMatchObject({ code: 0, stdout: 'a\n' });
  });
});
