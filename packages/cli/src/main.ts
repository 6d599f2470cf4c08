import { mkdirSync, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import packageJson from '../package.json';
import { type DemoStop, runDemo } from './demo.js';
import { UrlFetcher } from './fetch-urls.js';
import {
  autoJobs,
  defaultJobs,
  type Halt,
  parseAdaptive,
  parseCount,
  parseHalt,
  parseJobs,
  parseMilliseconds,
  parseRate,
  parseSeconds,
  type Rate,
} from './parse.js';
import { JobRunner } from './run-jobs.js';
import { BlockReader, parseBlockSize } from './pipe.js';
import { parseLoad, parseSize, RoomGate } from './room.js';
import {
  countFileItems,
  type InputSource,
  openFileStream,
  openRecords,
  openSource,
  type Records,
  splitInput,
  UsageError,
} from './sources.js';
import { describeUnknownOption, parseColsep, parseDelimiter, parseTimeout } from './gnu-options.js';
import { fileErrorReason } from './file-error.js';

/** Where `main` reads and writes; the process's own streams by default. */
export interface MainIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

const EXIT_USAGE = 255;
/** `--block`'s default, as GNU parallel's. */
const DEFAULT_BLOCK = 1024 * 1024;

const RUN_EXAMPLES = `
Replacement strings (substituted shell-quoted; with none, the item is appended):
  {}    the item                      {.}   the item without its extension
  {/}   basename                      {//}  dirname
  {/.}  basename without extension    {#}   job number, from 1
  {%}   job slot, from 1 to -j

Examples:
  ls *.png | lac -j 4 convert {} {.}.jpg          convert files, 4 at a time
  lac -k echo {#}: {} ::: a b c                   keep input order
  lac -a hosts.txt --retries 3 --timeout 10 ssh {} uptime
  tail -f queue.log | lac --line-buffer --tag ./process.sh
  find . -name '*.log' -print0 | lac -0 --joblog jobs.tsv gzip
  seq 100 | lac --halt now,fail=1 --bar ./test.sh {}
  lac --dry-run mv {} {.}.txt ::: a.md b.md        print the commands, run nothing

Commands:
  lac fetch [options] [URL...]   GET many URLs in-process (see lac fetch --help)
  lac demo                       the 100-task limited_as_completed demo

Exit status: 0 all jobs succeeded; 1-100 that many jobs failed; 101 more than 100 failed;
after --halt as GNU parallel (the failing job's status for fail=1); 130/143 after SIGINT/SIGTERM;
after SIGHUP no new job starts and the running ones finish; 255 usage or other errors.`;

const FETCH_EXAMPLES = `
Output: one JSON line per URL: {"url","status","bytes","ms","error"?,"attempts","file"?}
and a summary line on stderr. A URL fails on a network error, a timeout or an HTTP status >= 400;
network errors, timeouts, 429 and 5xx are retried (--retries), waiting --backoff ms, doubled each
time (or the server's Retry-After).

Examples:
  lac fetch -j 32 < urls.txt > results.jsonl
  lac fetch -o downloads --retries 3 --timeout 20 < urls.txt
  lac fetch -k --rate 10/s https://example.com/a https://example.com/b
  lac fetch --bar -a urls.txt | jq -r 'select(.error) | .url'

Exit status: the number of failed URLs, capped at 101; 130/143 after SIGINT/SIGTERM; 255 usage errors.`;

interface RunFlags {
  jobs: number | 'auto';
  keepOrder?: boolean;
  argFile?: string;
  null?: boolean;
  lineBuffer?: boolean;
  tag?: boolean;
  halt: Halt;
  retries: number;
  timeout?: { readonly ms: number } | { readonly percent: number };
  joblog?: string;
  bar?: boolean;
  dryRun?: boolean;
  rate?: Rate;
  delay?: number;
  I?: string;
  maxArgs?: number;
  maxReplaceArgs?: number;
  m?: boolean;
  X?: boolean;
  delimiter?: string;
  colsep?: RegExp;
  results?: string;
  resume?: boolean;
  resumeFailed?: boolean;
  ungroup?: boolean;
  v?: boolean;
  t?: boolean;
  shuf?: boolean;
  pipe?: boolean;
  pipePart?: boolean;
  memfree?: number;
  load?: number;
  eta?: boolean;
  progress?: boolean;
  block?: number;
  blockSize?: number;
}

interface FetchFlags {
  jobs: number | 'auto';
  adaptive?: string;
  keepOrder?: boolean;
  argFile?: string;
  null?: boolean;
  retries: number;
  backoff: number;
  timeout?: number;
  rate?: Rate;
  outputDir?: string;
  bar?: boolean;
}

function configure(command: Command, io: MainIo): Command {
  return command.exitOverride().configureOutput({
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => io.stderr.write(text),
    // One line, named after the program: "lac: unknown option '--bogus'".
    outputError: (text, write) => write(`lac: ${describeUnknownOption(text.replace(/^error: /, ''))}`),
  });
}

function runProgram(io: MainIo, onRun: (words: string[], flags: RunFlags) => void): Command {
  return configure(new Command('lac'), io)
    .usage('[options] [--] COMMAND TEMPLATE... [::: ITEM...]')
    .description(
      "Run COMMAND once per input item (stdin lines, -a FILE or ::: items), up to -j at once, printing each job's output whole when it ends.",
    )
    .version(packageJson.version, '-V, --version', 'print the version (e.g. lac --version)')
    .helpOption('-h, --help', 'show this help (e.g. lac --help)')
    .addOption(
      new Option(
        '-j, --jobs <n>',
        'jobs at once; 0 = unlimited; auto = adapt to how long jobs take (e.g. -j 8, -j auto)',
      )
        .argParser(parseJobs)
        .default(defaultJobs(), `number of CPUs, here ${defaultJobs()}`),
    )
    .option('-k, --keep-order', 'print output in input order, not completion order (e.g. -k)')
    .option('-a, --arg-file <file>', 'read items from FILE instead of stdin (e.g. -a urls.txt)')
    .option('-0, --null', 'items are NUL-separated, as from find -print0 (e.g. -0)')
    .option('--line-buffer', 'print output a line at a time as jobs write it (e.g. --line-buffer)')
    .option('--tag', 'prefix each output line with the item and a tab (e.g. --tag)')
    .addOption(
      new Option(
        '--halt <when>',
        'never | now|soon,fail|success|done=N or =N% (now kills running jobs, soon lets them finish) | 0 1 2 -1 -2 N% (e.g. --halt now,fail=1)',
      )
        .argParser(parseHalt)
        .default({ when: 'never' } as Halt, 'never'),
    )
    .option(
      '--retries <n>',
      'run a failing job up to N times in all, as GNU parallel (e.g. --retries 3)',
      parseCount,
      0,
    )
    .option(
      '--timeout <seconds>',
      'SIGTERM a job after SECONDS, or after N% of the median run time, SIGKILL 1 s later (e.g. --timeout 30, --timeout 200%)',
      parseTimeout,
    )
    .option(
      '--joblog <file>',
      "write GNU parallel's tab-separated job log to FILE, - for stdout (e.g. --joblog jobs.tsv)",
    )
    .option('--bar', 'progress bar (done/total, rate, ETA) on stderr when it is a terminal (e.g. --bar)')
    .option('--dry-run', 'print the commands that would run, run nothing (e.g. --dry-run)')
    .option(
      '--rate <n/unit>',
      'start at most N jobs per second (/s), minute (/m) or hour (/h) (e.g. --rate 5/s)',
      parseRate,
    )
    .option('--delay <seconds>', 'wait SECONDS between job starts (e.g. --delay 0.5)', parseSeconds)
    .option('-I <str>', 'use STR as the replacement string instead of {} (e.g. -I @@)')
    .option('-n, --max-args <n>', 'up to N items per job, {} is all of them (e.g. -n 2)', parseCount)
    .option('-N, --max-replace-args <n>', 'up to N items per job, as {1}..{N} (e.g. -N 2)', parseCount)
    .option('-m', 'as many items per job as fit, spread over the -j jobs (e.g. -m)')
    .option('-X', 'as -m, repeating the word around {} once per item (e.g. -X)')
    .option(
      '-d, --delimiter <delim>',
      'items end with DELIM, one character or \\n \\t \\0 \\xHH (e.g. -d ,)',
      parseDelimiter,
    )
    .option(
      '-C, --colsep <regexp>',
      'split each item into columns {1} {2}... at REGEXP (e.g. --colsep "\\t")',
      parseColsep,
    )
    .option(
      '--results <dir>',
      "save each job's stdout and stderr in DIR/1/ITEM/..., as GNU parallel, instead of printing them (e.g. --results out)",
    )
    .option('--resume', 'with --joblog: skip the jobs the joblog already lists (e.g. --resume --joblog jobs.tsv)')
    .option(
      '--resume-failed',
      'with --joblog: skip the jobs the joblog lists as succeeded, rerun the failed (e.g. --resume-failed --joblog jobs.tsv)',
    )
    .option('-u, --ungroup', 'print output as it comes, not grouped per job (e.g. -u)')
    .option('-v', 'print each command before its output (e.g. -v)')
    .option('-t', 'print each command on stderr as it starts (e.g. -t)')
    .option('--shuf', 'run the jobs in a random order (e.g. --shuf)')
    .option(
      '--pipe',
      "split stdin into blocks of about --block bytes, cut after a newline, each fed to one job's stdin (e.g. --pipe wc -l)",
    )
    .option(
      '--pipe-part',
      'as --pipe, reading the -a or :::: file instead of stdin (e.g. --pipe-part -a big.log grep x)',
    )
    .option(
      '--block <size>',
      'with --pipe or --pipe-part: bytes per block, k M G (1000s) or K M G (1024s); default 1M (e.g. --block 10M)',
      parseBlockSize,
    )
    .addOption(new Option('--block-size <size>').argParser(parseBlockSize).hideHelp())
    .option(
      '--progress',
      "GNU parallel's progress lines on stderr: jobs running, completed, average seconds (e.g. --progress)",
    )
    .option('--eta', 'as --progress, with the estimated seconds and jobs left (e.g. --eta)')
    .option(
      '--memfree <size>',
      'start a job only when at least SIZE of memory is available, k M G (Linux) (e.g. --memfree 1G)',
      parseSize,
    )
    .option(
      '--load <max>',
      'start a job only when the 1-minute load average is below MAX, or MAX% of the CPUs (Linux) (e.g. --load 80%)',
      parseLoad,
    )
    .argument(
      '[command...]',
      'the command template, then optionally input sources: ::: ITEMS, :::: FILES, :::+ and ::::+ to link',
    )
    .passThroughOptions()
    .addHelpText('after', RUN_EXAMPLES)
    .action((words: string[], flags: RunFlags) => onRun(words, flags));
}

function fetchProgram(io: MainIo, onFetch: (urls: string[], flags: FetchFlags) => void): Command {
  return configure(new Command('lac fetch'), io)
    .usage('[options] [URL...]')
    .description(
      'GET each URL (stdin lines, -a FILE or arguments) in-process, up to -j at once, and print one JSON line per URL.',
    )
    .helpOption('-h, --help', 'show this help (e.g. lac fetch --help)')
    .option('-j, --jobs <n>', 'requests at once; 0 = unlimited; auto = --adaptive (e.g. -j 64)', parseJobs, 16)
    .option(
      '--adaptive [min:max]',
      'find the limit by itself from latency and 429/503/timeouts, from MIN to MAX (1:256), starting at -j (e.g. --adaptive=4:64)',
    )
    .option('-k, --keep-order', 'print results in input order (e.g. -k)')
    .option('-a, --arg-file <file>', 'read URLs from FILE instead of stdin (e.g. -a urls.txt)')
    .option('-0, --null', 'URLs are NUL-separated (e.g. -0)')
    .option(
      '--retries <n>',
      'try a URL up to N times in all on network errors, timeouts, 429 and 5xx (e.g. --retries 3)',
      parseCount,
      0,
    )
    .option(
      '--backoff <ms>',
      'wait before the first retry, doubled for each next one (e.g. --backoff 500)',
      parseMilliseconds,
      250,
    )
    .option('--timeout <seconds>', 'give up an attempt after SECONDS (e.g. --timeout 10)', parseSeconds)
    .option(
      '--rate <n/unit>',
      'start at most N requests per second (/s), minute (/m) or hour (/h) (e.g. --rate 20/s)',
      parseRate,
    )
    .option('-o, --output-dir <dir>', 'save each 2xx body in DIR, named after the URL path (e.g. -o downloads)')
    .option('--bar', 'progress bar on stderr when it is a terminal (e.g. --bar)')
    .argument('[url...]', 'URLs to fetch instead of reading them')
    .addHelpText('after', FETCH_EXAMPLES)
    .action((urls: string[], flags: FetchFlags) => onFetch(urls, flags));
}

function onSignals(handler: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => void): () => void {
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  const onHup = () => handler('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  };
}

/** A write error on stdout (EPIPE, or EIO once the terminal is gone) calls `onBroken`; one on stderr is dropped. */
function onOutputErrors(io: MainIo, onBroken: () => void): () => void {
  const onStderrError = () => {};
  io.stdout.on('error', onBroken);
  io.stderr.on('error', onStderrError);
  return () => {
    io.stdout.off('error', onBroken);
    io.stderr.off('error', onStderrError);
  };
}

/** `--pipe` (stdin) and `--pipe-part` (the one `-a`/`::::` file): blocks of input, one per job. */
function openBlocks(
  flags: RunFlags,
  inputs: readonly InputSource[],
  perJob: number | undefined,
  stdin: Readable,
): Records {
  const option = flags.pipePart === true ? '--pipe-part' : '--pipe';
  if (flags.pipe === true && flags.pipePart === true) throw new UsageError('use only one of --pipe and --pipe-part');
  if (
    perJob !== undefined ||
    flags.m === true ||
    flags.X === true ||
    flags.colsep !== undefined ||
    flags.shuf === true
  ) {
    throw new UsageError(`${option} does not take -n, -N, -m, -X, --colsep or --shuf`);
  }
  // As GNU parallel: the number of blocks is not known before the end.
  if (flags.eta === true || flags.bar === true) throw new UsageError(`${option} is incompatible with --eta and --bar`);
  const block = flags.block ?? flags.blockSize;
  if (flags.pipe === true) {
    if (block !== undefined && block < 0) throw new UsageError('--block -N (blocks per job slot) is for --pipe-part');
    // GNU parallel's --pipe reads stdin even with -a: a file given is refused rather than ignored.
    if (inputs.length > 0)
      throw new UsageError('--pipe reads stdin: use --pipe-part for a -a or :::: file, and no ::: items');
    return { source: new BlockReader(stdin, block ?? DEFAULT_BLOCK), isStdin: true, total: () => undefined };
  }
  const path = inputs.length === 1 ? inputs[0]!.path : undefined;
  if (path === undefined || path === '-') throw new UsageError('--pipe-part needs one file: -a FILE or :::: FILE');
  const stream = openFileStream(path, inputs[0]!.what ?? ':::: file');
  // GNU parallel's default for --pipe-part: 10 blocks per job slot (--block -10).
  const perSlot = block === undefined ? 10 : block < 0 ? -block : undefined;
  const slots = typeof flags.jobs === 'number' && Number.isFinite(flags.jobs) ? flags.jobs : defaultJobs();
  const blockSize = perSlot === undefined ? block! : Math.max(1, Math.ceil(statSync(path).size / (slots * perSlot)));
  return { source: new BlockReader(stream, blockSize, true), isStdin: false, total: () => undefined };
}

/** Parses `argv` (without node and the script) and runs it; resolves with the exit status. */
function parse(program: Command, argv: readonly string[]): number | undefined {
  try {
    program.parse([...argv], { from: 'user' });
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    throw error;
  }
}

/**
 * The `lac` program: `lac [options] COMMAND...`, `lac fetch`, `lac demo`. Resolves with the exit
 * status rather than exiting, so output is flushed and tests can call it.
 *
 * @param argv - The arguments after `lac` (what `process.argv.slice(2)` holds).
 *
 * @param io - Where input comes from and output goes: `stdin`, `stdout` and `stderr`, `process` by default.
 *
 * @returns The exit status: 0 when every job succeeded, otherwise GNU parallel's statuses (the failure count, 255 for a usage error, 128 + signal).
 *
 * @throws Nothing for bad arguments or failing jobs (those are exit statuses); only an internal error, after the running jobs are killed.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['-j', '4', 'gzip', '{}', ':::', 'a.log', 'b.log']);
 * ```
 */
export async function main(argv: readonly string[], io: MainIo = process): Promise<number> {
  try {
    if (argv[0] === 'demo') {
      let isRun = false;
      const program = configure(new Command('lac demo'), io)
        .description('Run the limited_as_completed demo: 100 tasks, task n sleeps 1/n s, at most 10 at once.')
        .helpOption('-h, --help', 'show this help (e.g. lac demo --help)')
        .action(() => {
          isRun = true;
        });
      const status = parse(program, argv.slice(1));
      if (status !== undefined || !isRun) return status ?? 0;
      const stop = new AbortController();
      const offOutput = onOutputErrors(io, () => stop.abort('output' satisfies DemoStop));
      const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
        // Only the first signal is ours: a second one gets Node's default and ends the process at
        // once, whatever is still pending.
        offSignals();
        stop.abort(signal satisfies DemoStop);
      };
      const onInt = () => onSignal('SIGINT');
      const onTerm = () => onSignal('SIGTERM');
      const offSignals = () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      };
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      try {
        // LAC_DEMO_UNIT_MS: how long task 1 sleeps (1000 ms), for the tests that stop the demo midway.
        const unitMs = Number(process.env.LAC_DEMO_UNIT_MS ?? 1000);
        return await runDemo(io, { signal: stop.signal, unitMs });
      } finally {
        offSignals();
        offOutput();
      }
    }

    if (argv[0] === 'fetch') {
      let request: { urls: string[]; flags: FetchFlags } | undefined;
      // A bare --adaptive would take the next word (a URL) as its value: it is spelled --adaptive= for commander.
      const fetchArgv = argv.slice(1).map((word) => (word === '--adaptive' ? '--adaptive=' : word));
      const status = parse(
        fetchProgram(io, (urls, flags) => (request = { urls, flags })),
        fetchArgv,
      );
      if (status !== undefined || request === undefined) return status ?? 0;
      const { urls, flags } = request;
      const list = urls[0] === ':::' ? urls.slice(1) : urls;
      const source = openSource({
        argFile: flags.argFile,
        list: list.length > 0 ? list : undefined,
        isNull: flags.null,
        stdin: io.stdin,
      });
      if (flags.outputDir !== undefined) {
        try {
          mkdirSync(flags.outputDir, { recursive: true });
        } catch (error) {
          source.stop();
          throw new UsageError(`cannot create --output-dir '${flags.outputDir}': ${fileErrorReason(error)}`);
        }
      }
      const total =
        flags.bar !== true
          ? undefined
          : flags.argFile !== undefined
            ? countFileItems(flags.argFile, flags.null === true ? 0 : 10, true)
            : list.length > 0
              ? list.filter((url) => url.trim() !== '').length
              : undefined;
      const fetcher = new UrlFetcher(
        source,
        {
          jobs:
            flags.adaptive !== undefined || flags.jobs === 'auto'
              ? parseAdaptive(
                  flags.adaptive ?? '',
                  typeof flags.jobs === 'number' && Number.isFinite(flags.jobs) ? flags.jobs : 16,
                )
              : flags.jobs,
          keepOrder: flags.keepOrder === true,
          retries: flags.retries,
          backoffMs: flags.backoff,
          timeoutMs: flags.timeout,
          rate: flags.rate,
          outputDir: flags.outputDir,
          bar: flags.bar === true,
          total,
        },
        io,
      );
      const offOutput = onOutputErrors(io, () => fetcher.outputBroken());
      const off = onSignals((signal) => fetcher.interrupt(signal === 'SIGHUP' ? 'SIGTERM' : signal));
      try {
        return await fetcher.run();
      } finally {
        off();
        offOutput();
      }
    }

    let request: { words: string[]; flags: RunFlags } | undefined;
    const status = parse(
      runProgram(io, (words, flags) => (request = { words, flags })),
      argv,
    );
    if (status !== undefined || request === undefined) return status ?? 0;
    const { words, flags } = request;
    const { command, sources } = splitInput(words);
    if ((flags.memfree !== undefined || flags.load !== undefined) && process.platform !== 'linux') {
      throw new UsageError(
        `--memfree and --load read /proc/meminfo and /proc/loadavg, which ${process.platform} does not have (Linux only)`,
      );
    }
    if (command.length === 0) throw new UsageError('missing command (try lac --help)');
    if (
      (flags.block !== undefined || flags.blockSize !== undefined) &&
      flags.pipe !== true &&
      flags.pipePart !== true
    ) {
      throw new UsageError('--block needs --pipe or --pipe-part');
    }
    if (
      (flags.resume === true || flags.resumeFailed === true) &&
      (flags.joblog === undefined || flags.joblog === '-')
    ) {
      throw new UsageError(`${flags.resume === true ? '--resume' : '--resume-failed'} needs --joblog FILE`);
    }
    if ([flags.ungroup, flags.lineBuffer, flags.results !== undefined].filter(Boolean).length > 1) {
      throw new UsageError('use only one of -u, --line-buffer and --results');
    }
    const inputs: InputSource[] =
      flags.argFile === undefined ? sources : [{ path: flags.argFile, isLinked: false, what: '-a file' }, ...sources];
    const perJob = flags.maxReplaceArgs ?? flags.maxArgs;
    const records =
      flags.pipe === true || flags.pipePart === true
        ? openBlocks(flags, inputs, perJob, io.stdin)
        : await openRecords({
            sources: inputs,
            stdin: io.stdin,
            delimiter: flags.delimiter ?? (flags.null === true ? '\0' : '\n'),
            colsep: flags.colsep,
            perJob,
            isMulti: flags.m === true || flags.X === true,
            // -j auto spreads -m/-X arguments over the limit it starts at (one job per CPU).
            jobs: flags.jobs === 'auto' ? defaultJobs() : flags.jobs,
            isShuffled: flags.shuf === true,
          });
    const source = records.source;
    if (records.isStdin && (io.stdin as { isTTY?: boolean }).isTTY === true) {
      io.stderr.write(
        'lac: warning: input is read from the terminal: type one item per line and end with Ctrl-D (or did you forget ::: or :::: or -a, or to pipe data into lac?)\n',
      );
    }
    const isTotalNeeded =
      flags.bar === true || flags.eta === true || (flags.halt.when !== 'never' && flags.halt.isPercent);
    const total = isTotalNeeded ? records.total() : undefined;
    const timeout = flags.timeout;
    const runner = new JobRunner(
      command,
      source,
      {
        jobs: flags.jobs === 'auto' ? autoJobs(defaultJobs()) : flags.jobs,
        keepOrder: flags.keepOrder === true,
        lineBuffer: flags.lineBuffer === true,
        tag: flags.tag === true,
        halt: flags.halt,
        retries: flags.retries,
        timeoutMs: timeout !== undefined && 'ms' in timeout ? timeout.ms : undefined,
        timeoutPercent: timeout !== undefined && 'percent' in timeout ? timeout.percent : undefined,
        joblog: flags.joblog,
        bar: flags.bar === true,
        dryRun: flags.dryRun === true,
        rate: flags.rate,
        delayMs: flags.delay,
        total,
        template: {
          replace: flags.I,
          isContextReplace: flags.X === true,
          isInputOnStdin: flags.pipe === true || flags.pipePart === true,
        },
        results: flags.results,
        resume: flags.resumeFailed === true ? 'failed' : flags.resume === true ? 'all' : undefined,
        isUngrouped: flags.ungroup === true,
        isVerbose: flags.v === true,
        isTraced: flags.t === true,
        progress:
          flags.eta === true || flags.progress === true
            ? { isEta: flags.eta === true, cpus: defaultJobs() }
            : undefined,
        // LAC_PROC_DIR: where the tests put a meminfo and loadavg of their own.
        room:
          flags.memfree === undefined && flags.load === undefined
            ? undefined
            : new RoomGate(flags.memfree, flags.load, process.env.LAC_PROC_DIR ?? '/proc'),
      },
      io,
    );
    const offOutput = onOutputErrors(io, () => runner.outputBroken());
    const off = onSignals((signal) => (signal === 'SIGHUP' ? runner.hangUp() : runner.interrupt(signal)));
    try {
      return await runner.run();
    } catch (error) {
      source.stop();
      throw error;
    } finally {
      off();
      offOutput();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`lac: ${error.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`lac: ${(error as Error)?.message ?? String(error)}\n`);
    return EXIT_USAGE;
  }
}
