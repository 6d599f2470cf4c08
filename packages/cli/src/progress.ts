import type { Writable } from 'node:stream';
import type { WriteStream } from 'node:tty';

const WIDTH = 30;
const REDRAW_MS = 100;

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * `--bar` on stderr when it is a terminal. With a known total (a `:::` list or a file, counted
 * first as GNU parallel does): a bar, done/total, percentage, rate and ETA. From a pipe, where the
 * total is unknown until the end: done, rate and elapsed time, with no made-up total.
 */
export class ProgressBar {
  readonly #stream: Writable;
  readonly #unit: string;
  readonly #total: number | undefined;
  readonly #started = performance.now();
  #done = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;

  private constructor(stream: Writable, unit: string, total: number | undefined) {
    this.#stream = stream;
    this.#unit = unit;
    this.#total = total;
  }

  /** A bar on `stream`, or undefined when it is not a terminal (a bar in a log file is only noise). */
  static async create(stream: Writable, unit: string, total: number | undefined): Promise<ProgressBar | undefined> {
    if (!(stream as WriteStream).isTTY) return undefined;
    const bar = new ProgressBar(stream, unit, total);
    bar.#draw(false);
    return bar;
  }

  update(done: number): void {
    this.#done = done;
    if (performance.now() - this.#lastDraw >= REDRAW_MS) this.#draw(false);
  }

  /** The last state, then a newline; `isInterrupted` says so instead of showing an ETA. */
  stop(isInterrupted = false): void {
    this.#draw(true, isInterrupted);
    this.#stream.write('\n');
  }

  #draw(isFinal: boolean, isInterrupted = false): void {
    const now = performance.now();
    this.#lastDraw = now;
    const seconds = (now - this.#started) / 1000;
    const done = this.#done;
    const rate = seconds > 0 ? done / seconds : 0;
    const total = this.#total;
    let text: string;
    if (total === undefined) {
      text = `lac ${done} ${this.#unit} | ${rate.toFixed(1)}/s | ${formatSeconds(seconds)} elapsed`;
    } else {
      const fraction = total === 0 ? 1 : Math.min(done / total, 1);
      const filled = Math.round(fraction * WIDTH);
      const eta = isInterrupted
        ? 'interrupted'
        : isFinal
          ? `done in ${formatSeconds(seconds)}`
          : rate > 0
            ? `ETA ${formatSeconds((total - done) / rate)}`
            : 'ETA ?';
      text = `lac [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${total} ${this.#unit} ${Math.floor(fraction * 100)}% | ${rate.toFixed(1)}/s | ${eta}`;
    }
    this.#stream.write(`\r\x1b[K${text}`);
  }
}

/**
 * GNU parallel's `--progress` and `--eta` on stderr (whether or not it is a terminal, as GNU
 * parallel): its header, then one line redrawn with `\r` (at most every 100 ms) showing jobs
 * running and completed and the average seconds per job, with `--eta` also the estimated seconds
 * left and the jobs left; a newline at the end.
 */
export class GnuProgress {
  readonly #stream: Writable;
  readonly #isEta: boolean;
  readonly #total: number | undefined;
  readonly #started = performance.now();
  #running = 0;
  #completed = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;

  constructor(
    stream: Writable,
    options: {
      readonly isEta: boolean;
      readonly cpus: number;
      readonly jobs: number | string;
      readonly total: number | undefined;
    },
  ) {
    this.#stream = stream;
    this.#isEta = options.isEta;
    this.#total = options.total;
    stream.write(
      `\nComputers / CPU cores / Max jobs to run\n1:local / ${options.cpus} / ${options.jobs}\n\nComputer:jobs running/jobs completed/%of started jobs/Average seconds to complete\n`,
    );
    this.#draw();
  }

  update(running: number, completed: number): void {
    this.#running = running;
    this.#completed = completed;
    if (performance.now() - this.#lastDraw >= REDRAW_MS) this.#draw();
  }

  stop(): void {
    this.#draw();
    this.#stream.write('\n');
  }

  #draw(): void {
    const now = performance.now();
    this.#lastDraw = now;
    const completed = this.#completed;
    const average = completed > 0 ? (now - this.#started) / 1000 / completed : 0;
    const local = `local:${this.#running}/${completed}/100%/${average.toFixed(1)}s `;
    if (!this.#isEta) {
      this.#stream.write(`\r${local}`);
      return;
    }
    const total = this.#total;
    const left = total === undefined ? undefined : Math.max(0, total - completed);
    const eta = left === undefined || completed === 0 ? '?' : `${Math.round(left * average)}s`;
    this.#stream.write(`\rETA: ${eta} Left: ${left ?? '?'} AVG: ${average.toFixed(2)}s  ${local}`);
  }
}
