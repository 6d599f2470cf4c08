import { limitedMap } from '@lac/core';
import { type JobOutcome, type OutputSink, RunningJob } from './job.js';
import { JobLog } from './joblog.js';
import type { ItemSource } from './line-reader.js';
import { LineBufferedOutput, type OutputStreams, writeGrouped } from './output.js';
import type { Halt, Rate } from './parse.js';
import { ProgressBar } from './progress.js';
import { type CommandTemplate, compileTemplate } from './template.js';

export interface RunJobsOptions {
  /** Jobs at once; `Infinity` for no limit. */
  readonly jobs: number;
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
}

interface JobResult {
  readonly seq: number;
  readonly item: string;
  readonly slot: number;
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
  #isStopping = false;
  #isKilling = false;
  #interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  #isOutputBroken = false;
  #failures = 0;
  #haltedBy: JobOutcome | undefined;

  constructor(command: readonly string[], source: ItemSource, options: RunJobsOptions, streams: OutputStreams) {
    this.#template = compileTemplate(command);
    this.#source = source;
    this.#options = options;
    this.#streams = streams;
  }

  /** Runs every job and resolves with lac's exit status. Errors opening the joblog throw before any job starts. */
  async run(): Promise<number> {
    const options = this.#options;
    if (options.dryRun) return this.#dryRun();
    const joblog = options.joblog === undefined ? undefined : new JobLog(options.joblog);
    const bar = options.bar ? await ProgressBar.create(this.#streams.stderr, 'jobs') : undefined;
    const lineOutput = options.lineBuffer ? new LineBufferedOutput(this.#streams, options.keepOrder) : undefined;
    const template = this.#template;
    const attempts = Math.max(1, options.retries);

    const runOne = async (item: string, { index }: { index: number }): Promise<JobResult> => {
      const seq = index + 1;
      const slot = this.#slots.acquire();
      try {
        const tag = options.tag ? Buffer.from(`${item}\t`) : undefined;
        const sink: OutputSink | undefined = lineOutput?.sink(seq, tag);
        const command = template.render(item, seq, slot);
        let outcome: JobOutcome;
        let attempt = 0;
        do {
          attempt++;
          const job = new RunningJob(command, options.timeoutMs, sink);
          this.#running.add(job);
          if (this.#isKilling) job.terminate();
          try {
            outcome = await job.done;
          } finally {
            this.#running.delete(job);
          }
        } while (isFailure(outcome) && attempt < attempts && !this.#isStopping);
        // Checked here, before the result is handed back: core starts the next job as soon as this
        // one settles, so a halt decided in the consumer loop would come one job too late.
        if (isFailure(outcome)) this.#onFailure(outcome);
        return { seq, item, slot, outcome };
      } finally {
        this.#slots.release(slot);
      }
    };

    let done = 0;
    let failed = 0;
    try {
      const results = limitedMap(this.#source, options.jobs, runOne, {
        ordered: options.keepOrder,
        rate: options.rate,
      });
      for await (const result of results) {
        done++;
        const { outcome } = result;
        if (lineOutput !== undefined) {
          lineOutput.finish(result.seq);
        } else if (!this.#isOutputBroken) {
          const tag = options.tag ? Buffer.from(`${result.item}\t`) : undefined;
          writeGrouped(this.#streams, outcome.stdout, outcome.stderr, tag);
        }
        joblog?.write(result.seq, outcome, template.renderLine(result.item, result.seq, result.slot));
        if (isFailure(outcome)) failed++;
        bar?.update(done, this.#source.count);
      }
    } finally {
      bar?.stop();
      joblog?.close();
    }

    if (this.#interruptedBy !== undefined) return this.#interruptedBy === 'SIGINT' ? 130 : 143;
    if (this.#isOutputBroken) return 255;
    // As GNU parallel: a halt exits with the status of the job that triggered it.
    const haltedBy = this.#haltedBy;
    if (haltedBy !== undefined) return haltedBy.exitCode > 0 ? haltedBy.exitCode : 1;
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

  /** Our stdout went away (EPIPE): nobody reads the output any more, so stop as for a signal. */
  outputBroken(): void {
    if (this.#isOutputBroken) return;
    this.#isOutputBroken = true;
    this.#stopStarting();
    this.#terminateAll();
  }

  #onFailure(outcome: JobOutcome): void {
    this.#failures++;
    const { halt } = this.#options;
    if (halt.when === 'never' || this.#failures < halt.fail || this.#haltedBy !== undefined) return;
    this.#haltedBy = outcome;
    this.#stopStarting();
    if (halt.when === 'now') this.#terminateAll();
  }

  #stopStarting(): void {
    this.#isStopping = true;
    this.#source.stop();
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
      const slot = Number.isFinite(jobs) ? ((seq - 1) % jobs) + 1 : seq;
      this.#streams.stdout.write(`${this.#template.renderLine(item, seq, slot)}\n`);
    }
    return 0;
  }
}
