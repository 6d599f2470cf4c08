import type { Writable } from 'node:stream';
import type { OutputSink } from './job.js';

const NEWLINE = 10;

/** Prefixes every line of `data` (the last one may be unterminated) with `prefix`. */
function prefixLines(data: Buffer, prefix: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    const at = data.indexOf(NEWLINE, start);
    const end = at === -1 ? data.length : at + 1;
    parts.push(prefix, data.subarray(start, end));
    start = end;
  }
  return Buffer.concat(parts);
}

export interface OutputStreams {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Writes a finished job's collected output whole: its stdout, then its stderr. */
export function writeGrouped(
  streams: OutputStreams,
  stdout: Buffer[],
  stderr: Buffer[],
  tag: Buffer | undefined,
): void {
  if (stdout.length > 0) {
    const data = stdout.length === 1 ? stdout[0]! : Buffer.concat(stdout);
    streams.stdout.write(tag === undefined ? data : prefixLines(data, tag));
  }
  if (stderr.length > 0) {
    const data = stderr.length === 1 ? stderr[0]! : Buffer.concat(stderr);
    streams.stderr.write(tag === undefined ? data : prefixLines(data, tag));
  }
}

/** One job's output in `--line-buffer` mode. */
class LineSink implements OutputSink {
  readonly seq: number;
  readonly #output: LineBufferedOutput;
  readonly tag: Buffer | undefined;
  /** Unterminated tail of each stream. */
  partial: { stdout: Buffer | undefined; stderr: Buffer | undefined } = { stdout: undefined, stderr: undefined };
  /** Complete lines held back until it is this job's turn (`-k`). */
  held: Array<['stdout' | 'stderr', Buffer]> = [];

  constructor(seq: number, output: LineBufferedOutput, tag: Buffer | undefined) {
    this.seq = seq;
    this.#output = output;
    this.tag = tag;
  }

  data(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const previous = this.partial[stream];
    const data = previous === undefined ? chunk : Buffer.concat([previous, chunk]);
    const end = data.lastIndexOf(NEWLINE) + 1;
    this.partial[stream] = end < data.length ? data.subarray(end) : undefined;
    if (end > 0) this.#output.lines(this, stream, data.subarray(0, end));
  }
}

/**
 * `--line-buffer`: output is printed a whole line at a time as jobs produce it, so lines of
 * concurrent jobs mix but never break. With `-k`, only the oldest unfinished job prints live; the
 * others' lines wait until it is their turn.
 */
export class LineBufferedOutput {
  readonly #streams: OutputStreams;
  readonly #isOrdered: boolean;
  readonly #sinks = new Map<number, LineSink>();
  /** With `-k`: the job whose lines are printed live. */
  #current = 1;

  constructor(streams: OutputStreams, isOrdered: boolean) {
    this.#streams = streams;
    this.#isOrdered = isOrdered;
  }

  sink(seq: number, tag: Buffer | undefined): OutputSink {
    let sink = this.#sinks.get(seq);
    if (sink === undefined) {
      sink = new LineSink(seq, this, tag);
      this.#sinks.set(seq, sink);
    }
    return sink;
  }

  lines(sink: LineSink, stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.#isOrdered && sink.seq !== this.#current) sink.held.push([stream, data]);
    else this.#write(sink, stream, data);
  }

  /** The job's result was delivered (in order with `-k`): print all it still holds. */
  finish(seq: number): void {
    const sink = this.#sinks.get(seq);
    if (sink !== undefined) {
      this.#sinks.delete(seq);
      this.#flush(sink);
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = sink.partial[stream];
        if (rest !== undefined) this.#write(sink, stream, rest);
      }
    }
    if (this.#isOrdered) {
      this.#current = seq + 1;
      const next = this.#sinks.get(this.#current);
      if (next !== undefined) this.#flush(next);
    }
  }

  #flush(sink: LineSink): void {
    for (const [stream, data] of sink.held) this.#write(sink, stream, data);
    sink.held = [];
  }

  #write(sink: LineSink, stream: 'stdout' | 'stderr', data: Buffer): void {
    this.#streams[stream].write(sink.tag === undefined ? data : prefixLines(data, sink.tag));
  }
}
