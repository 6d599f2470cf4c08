import { type AdaptiveLimit, type LimitedIterator, limitedMap } from '@lac/core';
import { type JobOutcome, type OutputSink, RunningJob } from './job.js';
import { JobLog } from './joblog.js';
import type { ItemSource } from './line-reader.js';
import { LineBufferedOutput, type OutputStreams, writeGrouped } from './output.js';
import type { Halt, Rate } from './parse.js';
import { GnuProgress, ProgressBar } from './progress.js';
import type { RoomGate } from './room.js';
import { StartGate } from './start-gate.js';
import { encodeItem } from './bytes.js';
import { type CommandTemplate, compileTemplate, type TemplateOptions } from './template.js';
import { writeResults } from './results.js';

export interface RunJobsOptions {
  /** Jobs at once; `Infinity` for no limit; `adaptive(...)` for `-j auto`. */
  readonly jobs: number | AdaptiveLimit;
  readonly keepOrder: boolean;
  readonly lineBuffer: boolean;
  readonly tag: boolean;
  readonly halt: Halt;
  /** Attempts per job in all, as GNU parallel counts them (0 and 1 both mean one). */
  readonly retries: number;
  readonly timeoutMs: number | undefined;
  readonly joblog: string | undefined;
  readonly bar: boolean;
  readonly dryRun: boolean;
  readonly rate: Rate | undefined;
  /** `--delay`: ms between job starts. */
  readonly delayMs?: number | undefined;
  /** The number of items, when it is known before the run (a `:::` list or a file); for `--bar` and `--halt N%`. */
  readonly total?: number | undefined;
  /** `--timeout N%`: a job is stopped after N% of the median run time of the jobs that succeeded so far. */
  readonly timeoutPercent?: number | undefined;
  /** `-I`, `-X`. */
  readonly template?: TemplateOptions | undefined;
  /** `--results DIR`: each job's output goes to files there instead of stdout. */
  readonly results?: string | undefined;
  /** `--resume` (skip every job in the joblog) or `--resume-failed` (skip the succeeded ones). */
  readonly resume?: 'all' | 'failed' | undefined;
  /** `-u`: output is written as it comes. */
  readonly isUngrouped?: boolean | undefined;
  /** `-v`: each command is printed before its output. */
  readonly isVerbose?: boolean | undefined;
  /** `-t`: each command is printed on stderr as it starts. */
  readonly isTraced?: boolean | undefined;
  /** `--progress` or `--eta`: GNU parallel's progress lines on stderr. */
  readonly progress?: { readonly isEta: boolean; readonly cpus: number } | undefined;
  /** `--memfree`, `--load`: a job starts only when there is room. */
  readonly room?: RoomGate | undefined;
}

/** A job's arguments: one item, or several (several input sources, `-n`, `--colsep`...). */
type Args = string | readonly string[];
/** What the source gives per job: its arguments, or a block of input for its stdin (`--pipe`). */
type Item = Args | Buffer;

const NO_ARGS: readonly string[] = [];

/** How `--tag` shows a job's arguments: joined with spaces, as GNU parallel's `{}`. */
function tagOf(item: Args): string {
  return typeof item === 'string' ? item : item.join(' ');
}

interface JobResult {
  readonly seq: number;
  readonly item: Args;
  readonly slot: number;
  readonly line: string | undefined;
  readonly outcome: JobOutcome;
}

/** Job slots for `{%}`: a freed slot number is reused by the next job. */
class SlotPool {
  readonly #free: number[] = [];
  #next = 1;

  acquire(): number {
    return this.#free.pop() ?? this.#next++;
  }

  release(slot: number): void {
    this.#free.push(slot);
  }
}

function isFailure(outcome: JobOutcome): boolean {
  return outcome.exitCode !== 0 || outcome.signal !== 0;
}

/** Resolves after the event loop has polled once: signals and exits queued meanwhile are handled first. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs one command per item with `@lac/core`'s `limitedMap` (source order with `-k`), prints each
 * job's output, keeps the joblog and the bar, applies `--halt`, and stops cleanly on a signal.
 */
export class JobRunner {
  readonly #template: CommandTemplate;
  readonly #source: ItemSource;
  readonly #options: RunJobsOptions;
  readonly #streams: OutputStreams;
  readonly #slots = new SlotPool();
  readonly #running = new Set<RunningJob>();
  readonly #gate: StartGate | undefined;
  /** Jobs that could not start for want of file descriptors, each woken when a running job ends. */
  readonly #exhaustedWaiters: Array<() => void> = [];
  #isExhaustionReported = false;
  #idleExhaustedTries = 0;
  #isStopping = false;
  #isKilling = false;
  #interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  #isOutputBroken = false;
  #started = 0;
  #finished = 0;
  #failures = 0;
  /** Set once `--halt` triggers: lac's exit status from then on. */
  #haltStatus: number | undefined;
  #results: LimitedIterator<JobResult | undefined> | undefined;
  /** Run times of the jobs that succeeded, for `--timeout N%`. */
  readonly #successTimes: number[] = [];

  constructor(command: readonly string[], source: ItemSource, options: RunJobsOptions, streams: OutputStreams) {
    this.#template = compileTemplate(command, options.template);
    this.#source = source;
    this.#options = options;
    this.#streams = streams;
    this.#gate =
      options.rate === undefined && options.delayMs === undefined
        ? undefined
        : new StartGate(options.rate, options.delayMs);
  }

  /** Runs every job and resolves with lac's exit status. Errors opening the joblog throw before any job starts. */
  async run(): Promise<number> {
    const options = this.#options;
    if (options.dryRun) return this.#dryRun();
    const skipped =
      options.resume === undefined || options.joblog === undefined
        ? undefined
        : JobLog.finished(options.joblog, options.resume);
    const joblog = options.joblog === undefined ? undefined : new JobLog(options.joblog, skipped !== undefined);
    const bar = options.bar ? await ProgressBar.create(this.#streams.stderr, 'jobs', options.total) : undefined;
    const jobs =
      typeof options.jobs === 'number' ? (Number.isFinite(options.jobs) ? options.jobs : 'unlimited') : 'auto';
    const progress =
      options.progress === undefined
        ? undefined
        : new GnuProgress(this.#streams.stderr, { ...options.progress, jobs, total: options.total });
    const lineOutput = options.lineBuffer ? new LineBufferedOutput(this.#streams, options.keepOrder) : undefined;
    const template = this.#template;
    const attempts = Math.max(1, options.retries);

    const streams = this.#streams;
    const ungrouped: OutputSink | undefined = options.isUngrouped
      ? { data: (stream, chunk) => this.#isOutputBroken || streams[stream].write(chunk) }
      : undefined;
    const isCommandShown = options.isVerbose === true || options.isTraced === true;

    const runOne = async (sourceItem: Item, { index }: { index: number }): Promise<JobResult | undefined> => {
      if (skipped?.has(index + 1)) return undefined;
      // Spawning from inside the previous job's exit callback would starve the event loop at high
      // job rates (a SIGINT went unhandled for seconds): each start waits for one turn of the loop.
      await yieldToLoop();
      if (this.#gate !== undefined && !(await this.#gate.pass())) return undefined;
      if (options.room !== undefined && !(await options.room.pass())) return undefined;
      if (this.#isStopping) return undefined;
      const seq = index + 1;
      // --pipe: the block goes to the job's stdin, and the command gets no arguments.
      const input = Buffer.isBuffer(sourceItem) ? sourceItem : undefined;
      const item: Args = input === undefined ? (sourceItem as Args) : NO_ARGS;
      const slot = this.#slots.acquire();
      try {
        const tag = options.tag ? encodeItem(`${tagOf(item)}\t`) : undefined;
        const sink: OutputSink | undefined = ungrouped ?? lineOutput?.sink(seq, tag);
        const command = template.render(item, seq, slot);
        const line = isCommandShown ? command.line : undefined;
        if (options.isTraced) streams.stderr.write(encodeItem(`${line}\n`));
        if (options.isVerbose && sink !== undefined) sink.data('stdout', encodeItem(`${line}\n`));
        let outcome: JobOutcome;
        let attempt = 0;
        this.#started++;
        progress?.update(this.#started - this.#finished, this.#finished);
        do {
          attempt++;
          outcome = await this.#runAttempt(command, sink, input);
          while (
            outcome.exhausted !== undefined &&
            !this.#isStopping &&
            (await this.#waitForDescriptors(outcome.exhausted))
          ) {
            outcome = await this.#runAttempt(command, sink, input);
          }
        } while (isFailure(outcome) && attempt < attempts && !this.#isStopping);
        // Checked here, before the result is handed back: core starts the next job as soon as this
        // one settles, so a halt decided in the consumer loop would come one job too late.
        this.#onFinished(outcome);
        return { seq, item, slot, outcome, line };
      } finally {
        this.#slots.release(slot);
      }
    };

    let done = 0;
    let failed = 0;
    try {
      const results = limitedMap(this.#source, options.jobs, runOne, { ordered: options.keepOrder });
      this.#results = results;
      if (this.#isStopping) results.drain();
      for await (const result of results) {
        if (result === undefined) continue;
        done++;
        const { outcome } = result;
        if (lineOutput !== undefined) {
          lineOutput.finish(result.seq);
        } else if (options.results !== undefined) {
          writeResults(options.results, result.item, result.seq, outcome);
        } else if (!this.#isOutputBroken && ungrouped === undefined) {
          const tag = options.tag ? encodeItem(`${tagOf(result.item)}\t`) : undefined;
          const stdout = options.isVerbose ? [encodeItem(`${result.line}\n`), ...outcome.stdout] : outcome.stdout;
          writeGrouped(this.#streams, stdout, outcome.stderr, tag);
        }
        joblog?.write(result.seq, outcome, template.renderLine(result.item, result.seq, result.slot));
        if (isFailure(outcome)) failed++;
        bar?.update(done);
        progress?.update(this.#started - this.#finished, this.#finished);
      }
    } catch (error) {
      // An internal error must not leave jobs running under init: stop them, wait, then report.
      this.#stopStarting();
      this.#isKilling = true;
      for (const job of this.#running) job.kill();
      await Promise.all([...this.#running].map((job) => job.done));
      throw error;
    } finally {
      this.#gate?.close();
      options.room?.close();
      bar?.stop(this.#interruptedBy !== undefined);
      progress?.stop();
      joblog?.close();
    }

    if (this.#interruptedBy !== undefined) return this.#interruptedBy === 'SIGINT' ? 130 : 143;
    if (this.#isOutputBroken) return 255;
    if (this.#haltStatus !== undefined) return this.#haltStatus;
    return Math.min(failed, 101);
  }

  /**
   * SIGINT/SIGTERM: start nothing new and terminate the running jobs (SIGTERM to each job's process
   * group, SIGKILL after a grace period); a second signal kills them at once.
   */
  interrupt(signal: 'SIGINT' | 'SIGTERM'): void {
    if (this.#interruptedBy !== undefined) {
      for (const job of this.#running) job.kill();
      return;
    }
    this.#interruptedBy = signal;
    this.#stopStarting();
    this.#terminateAll();
  }

  /**
   * SIGHUP (the terminal went away), as GNU parallel: start nothing new, let the running jobs
   * finish, then exit as usual. A SIGINT or SIGTERM afterwards terminates them.
   */
  hangUp(): void {
    if (this.#isStopping) return;
    this.#stopStarting();
    try {
      this.#streams.stderr.write(
        `lac: SIGHUP received. No new jobs will be started. Waiting for ${this.#running.size} jobs to finish.\n`,
      );
    } catch {
      // The terminal may be gone already.
    }
  }

  /** Our stdout went away (EPIPE): nobody reads the output any more, so stop as for a signal. */
  outputBroken(): void {
    if (this.#isOutputBroken) return;
    this.#isOutputBroken = true;
    this.#stopStarting();
    this.#terminateAll();
  }

  async #runAttempt(
    command: ReturnType<CommandTemplate['render']>,
    sink: OutputSink | undefined,
    input: Buffer | undefined,
  ): Promise<JobOutcome> {
    const job = new RunningJob(command, this.#timeoutMs(), sink, input);
    this.#running.add(job);
    if (this.#isKilling) job.terminate();
    let outcome: JobOutcome | undefined;
    try {
      outcome = await job.done;
      return outcome;
    } finally {
      this.#running.delete(job);
      // A job that ran has freed its descriptors: one waiting job may try again (a failed start frees none).
      if (outcome?.exhausted === undefined) this.#exhaustedWaiters.shift()?.();
    }
  }

  /**
   * Out of file descriptors (or processes): wait until a running job ends and frees some, as GNU
   * parallel throttles itself to what it has. Resolves false when nothing runs that could free any.
   */
  async #waitForDescriptors(code: string): Promise<boolean> {
    if (!this.#isExhaustionReported) {
      this.#isExhaustionReported = true;
      const what = code === 'EAGAIN' ? 'processes' : 'file descriptors';
      this.#streams.stderr.write(
        `lac: warning: out of ${what} (${code}) with ${this.#running.size} jobs running: starting the others as running ones end (raise ulimit -n or lower -j)\n`,
      );
    }
    if (this.#running.size === 0) {
      // Something outside lac holds them: try for about a second, then fail the job.
      if (++this.#idleExhaustedTries > 20) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return true;
    }
    this.#idleExhaustedTries = 0;
    await new Promise<void>((resolve) => this.#exhaustedWaiters.push(resolve));
    return true;
  }

  /** The timeout for a job starting now: `--timeout N%` of the median successful run time, once there is one. */
  #timeoutMs(): number | undefined {
    const percent = this.#options.timeoutPercent;
    const times = this.#successTimes;
    if (percent === undefined || times.length === 0) return this.#options.timeoutMs;
    const sorted = [...times].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    return Math.max(1, (median * percent) / 100);
  }

  #onFinished(outcome: JobOutcome): void {
    this.#finished++;
    const isFailed = isFailure(outcome);
    if (isFailed) this.#failures++;
    else if (this.#options.timeoutPercent !== undefined) this.#successTimes.push(outcome.runtime);
    const { halt } = this.#options;
    if (halt.when === 'never' || this.#haltStatus !== undefined) return;
    const counted =
      halt.kind === 'fail'
        ? isFailed
          ? this.#failures
          : -1
        : halt.kind === 'success'
          ? isFailed
            ? -1
            : this.#finished - this.#failures
          : this.#finished;
    if (counted < 0) return;
    const total = this.#options.total ?? this.#started;
    const threshold = halt.isPercent ? (total * halt.count) / 100 : halt.count;
    if (counted < threshold) return;
    // GNU parallel's exit statuses: 0 after success=N; the job's own status (128 + signal when
    // killed) after fail=1 or done=1; otherwise the failures so far (capped at 101), or their percentage.
    if (halt.kind === 'success') this.#haltStatus = 0;
    else if (halt.isPercent) this.#haltStatus = Math.ceil((this.#failures / Math.max(total, 1)) * 100);
    else if (halt.count === 1)
      this.#haltStatus = (outcome.exitCode || (outcome.signal !== 0 ? outcome.signal + 128 : 0)) & 0xff;
    else this.#haltStatus = Math.min(this.#failures, 101);
    this.#stopStarting();
    if (halt.when === 'now') this.#terminateAll();
  }

  /**
   * Nothing new starts: core's `drain()` pulls and starts nothing more and ends the run normally
   * once the running jobs are delivered. A job core has started but not spawned yet (waiting for
   * its turn of the loop, a `--rate` window or descriptors) sees `#isStopping` and gives up.
   */
  #stopStarting(): void {
    this.#isStopping = true;
    this.#results?.drain();
    // drain() does not interrupt a pull already waiting on stdin (core settles it first): ending
    // the reader settles it now, so an idle `tail -f | lac` still ends.
    this.#source.stop();
    this.#gate?.close();
    this.#options.room?.close();
    for (const wake of this.#exhaustedWaiters.splice(0)) wake();
  }

  #terminateAll(): void {
    this.#isKilling = true;
    for (const job of this.#running) job.terminate();
  }

  async #dryRun(): Promise<number> {
    const jobs = this.#options.jobs;
    let seq = 0;
    for await (const item of this.#source) {
      seq++;
      const slot = typeof jobs === 'number' && Number.isFinite(jobs) ? ((seq - 1) % jobs) + 1 : seq;
      this.#streams.stdout.write(
        encodeItem(`${this.#template.renderLine(Buffer.isBuffer(item) ? NO_ARGS : item, seq, slot)}\n`),
      );
    }
    return 0;
  }
}
