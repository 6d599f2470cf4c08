import { closeSync, openSync, writeSync } from 'node:fs';
import { encodeItem } from './bytes.js';
import type { JobOutcome } from './job.js';
import { UsageError } from './sources.js';

const HEADER = 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n';

/** `--joblog FILE`: one tab-separated line per finished job, in GNU parallel's columns. */
export class JobLog {
  readonly #fd: number;
  readonly #isOwned: boolean;

  /** Opens (truncates) the file at once, so a bad path is a usage error before any job starts. `-` is stdout. */
  constructor(path: string) {
    if (path === '-') {
      this.#fd = 1;
      this.#isOwned = false;
    } else {
      try {
        this.#fd = openSync(path, 'w');
      } catch (error) {
        throw new UsageError(`cannot write --joblog file '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      this.#isOwned = true;
    }
    writeSync(this.#fd, HEADER);
  }

  write(seq: number, outcome: JobOutcome, command: string): void {
    const start = (outcome.startedAt / 1000).toFixed(3);
    const runtime = (outcome.runtime / 1000).toFixed(3).padStart(10);
    // Newlines in a command would break the one-line-per-job format.
    const line = command.replace(/\n/g, '\\n');
    writeSync(this.#fd, encodeItem(`${seq}\t:\t${start}\t${runtime}\t0\t${outcome.received}\t${outcome.exitCode}\t${outcome.signal}\t${line}\n`));
  }

  close(): void {
    if (this.#isOwned) closeSync(this.#fd);
  }
}
