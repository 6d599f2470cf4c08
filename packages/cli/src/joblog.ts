import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { encodeItem } from './bytes.js';
import type { JobOutcome } from './job.js';
import { UsageError } from './sources.js';
import { fileErrorReason } from './file-error.js';

const HEADER = 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n';

/** `--joblog FILE`: one tab-separated line per finished job, in GNU parallel's columns. */
export class JobLog {
  readonly #fd: number;
  readonly #isOwned: boolean;

  /**
   * Opens (truncates, or with `isAppended` appends to) the file at once, so a bad path is a usage
   * error before any job starts. `-` is stdout.
   */
  constructor(path: string, isAppended = false) {
    if (path === '-') {
      this.#fd = 1;
      this.#isOwned = false;
    } else {
      try {
        this.#fd = openSync(path, isAppended ? 'a' : 'w');
      } catch (error) {
        throw new UsageError(`cannot write --joblog file '${path}': ${fileErrorReason(error)}`);
      }
      this.#isOwned = true;
    }
    if (!this.#isOwned || fstatSync(this.#fd).size === 0) writeSync(this.#fd, HEADER);
  }

  /**
   * `--resume`: the seqs a joblog lists (`all`), or only those that succeeded (`failed`, for
   * `--resume-failed`, which runs the failed ones again). A missing file lists none.
   */
  static finished(path: string, which: 'all' | 'failed'): Set<number> {
    const seqs = new Set<number>();
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      return seqs;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.split('\t');
      if (fields.length < 9) continue;
      if (which === 'all' || (fields[6] === '0' && fields[7] === '0')) seqs.add(Number(fields[0]));
    }
    return seqs;
  }

  write(seq: number, outcome: JobOutcome, command: string): void {
    const start = (outcome.startedAt / 1000).toFixed(3);
    const runtime = (outcome.runtime / 1000).toFixed(3).padStart(10);
    // Newlines in a command would break the one-line-per-job format.
    const line = command.replace(/\n/g, '\\n');
    writeSync(
      this.#fd,
      encodeItem(
        `${seq}\t:\t${start}\t${runtime}\t0\t${outcome.received}\t${outcome.exitCode}\t${outcome.signal}\t${line}\n`,
      ),
    );
  }

  close(): void {
    if (this.#isOwned) closeSync(this.#fd);
  }
}
