import type { WriteStream } from 'node:tty';
import type { Writable } from 'node:stream';

/** `--bar`: done/total, rate and ETA on stderr, drawn by cli-progress (only when stderr is a terminal). */
export class ProgressBar {
  readonly #bar: import('cli-progress').SingleBar;
  readonly #started = performance.now();
  #total = 0;

  private constructor(bar: import('cli-progress').SingleBar) {
    this.#bar = bar;
  }

  /** A bar on `stream`, or undefined when it is not a terminal (a bar in a log file is only noise). */
  static async create(stream: Writable, unit: string): Promise<ProgressBar | undefined> {
    if (!(stream as WriteStream).isTTY) return undefined;
    const { default: cliProgress } = await import('cli-progress');
    const bar = new cliProgress.SingleBar(
      {
        stream: stream as WriteStream,
        format: `lac {bar} {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(0, 0, { rate: '0.0' });
    return new ProgressBar(bar);
  }

  /** `total` is what is known so far: items read from a stream keep coming. */
  update(done: number, total: number): void {
    if (total !== this.#total) {
      this.#total = total;
      this.#bar.setTotal(total);
    }
    const seconds = (performance.now() - this.#started) / 1000;
    this.#bar.update(done, { rate: (seconds > 0 ? done / seconds : 0).toFixed(1) });
  }

  stop(): void {
    this.#bar.stop();
  }
}
