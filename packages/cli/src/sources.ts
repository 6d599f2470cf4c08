import { closeSync, createReadStream, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { decodeItem } from './bytes.js';
import { type ItemSource, LineReader, ListSource, RecordReader } from './line-reader.js';
import { fileErrorReason } from './file-error.js';

/** A mistake in how lac was called: printed as one line, exit status 255, no job started. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// GNU parallel's input-source separators: `:::` items, `::::` argument files, `+` links to the source before.
const SEPARATORS = new Set([':::', ':::+', '::::', '::::+']);
// GNU parallel replacement strings lac does not implement: refused, never run as literal text.
const UNSUPPORTED_TOKEN = /\{(?:-\d+(?:\.|\/|\/\/|\/\.)?|\+\/|\+\.+|\.\.+|\/\.\.+|##|-?\d*=[\s\S]*?=)\}/;

/** Refuses GNU parallel syntax that lac would otherwise pass on as literal text. */
function refuseUnsupported(words: readonly string[]): void {
  const token = UNSUPPORTED_TOKEN.exec(words.join(' '));
  if (token !== null)
    throw new UsageError(
      `the replacement string \`${token[0]}\` is GNU parallel syntax that lac does not support (see lac --help)`,
    );
}

/** One input source: `::: a b` items, or a `::::`/`-a` file (`-` is stdin); `isLinked` for `:::+`/`::::+`. */
export interface InputSource {
  readonly values?: readonly string[];
  readonly path?: string;
  readonly isLinked: boolean;
  /** How a usage error names it (`-a file`). */
  readonly what?: string;
}

/** Splits the words after the options into the command and its input sources (`:::`, `::::`, `:::+`, `::::+`). */
export function splitInput(words: readonly string[]): { command: string[]; sources: InputSource[] } {
  let at = words.findIndex((word) => SEPARATORS.has(word));
  if (at === -1) at = words.length;
  const command = words.slice(0, at);
  refuseUnsupported(command);
  const sources: InputSource[] = [];
  let list: string[] | undefined;
  let separator = '';
  for (const word of words.slice(at)) {
    if (SEPARATORS.has(word)) {
      separator = word;
      list = undefined;
      if (word === ':::' || word === ':::+') {
        list = [];
        sources.push({ values: list, isLinked: word === ':::+' });
      }
    } else if (list !== undefined) {
      list.push(word);
    } else {
      // Each file after `::::` is a source of its own; after `::::+` the first is linked.
      sources.push({ path: word, isLinked: separator === '::::+' });
      separator = '::::';
    }
  }
  if (separator === '::::' && sources.length === 0) throw new UsageError('`::::` needs at least one file');
  return { command, sources };
}

export interface RecordOptions {
  readonly sources: readonly InputSource[];
  readonly stdin: Readable;
  /** The item delimiter of files and stdin: one ASCII character. */
  readonly delimiter: string;
  /** `--colsep`: each item is split into columns, each an argument ({1} {2}...). */
  readonly colsep?: RegExp | undefined;
  /** `-n`/`-N`: arguments per job (0: none); undefined: one item per job. */
  readonly perJob?: number | undefined;
  /** `-m`/`-X`: as many arguments per job as fit, spread evenly over the `jobs` (as GNU parallel). */
  readonly isMulti?: boolean | undefined;
  readonly jobs: number;
  /** `--shuf`: run the jobs in a random order. */
  readonly isShuffled?: boolean | undefined;
}

export interface Records {
  readonly source: ItemSource;
  /** True when the items come from stdin (`lac` warns when it is a terminal). */
  readonly isStdin: boolean;
  /** The number of jobs when it can be known first (read from the file if need be). */
  total(): number | undefined;
}

// What GNU parallel keeps a command line's arguments under for -m/-X (its default line length, about).
const MULTI_ARG_BYTES = 120_000;

function openFile(path: string, what: string): number {
  try {
    const fd = openSync(path, 'r');
    if (fstatSync(fd).isDirectory()) {
      closeSync(fd);
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return fd;
  } catch (error) {
    throw new UsageError(`cannot read ${what} '${path}': ${fileErrorReason(error)}`);
  }
}

/** A read stream of the file at `path`; a `UsageError` naming it (`what`) when it cannot be read. */
export function openFileStream(path: string, what: string): Readable {
  return createReadStream('', { fd: openFile(path, what), highWaterMark: 64 * 1024 });
}

function splitItems(data: Buffer, delimiter: number): string[] {
  const items: string[] = [];
  let start = 0;
  for (let at = data.indexOf(delimiter); at !== -1; at = data.indexOf(delimiter, start)) {
    items.push(decodeItem(data, start, at));
    start = at + 1;
  }
  if (start < data.length) items.push(decodeItem(data, start));
  return items;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** The cross product of the sources, each linked run of sources zipped (the shortest wins, as GNU parallel). */
function combine(values: ReadonlyArray<readonly string[]>, sources: readonly InputSource[]): string[][] {
  const groups: string[][][] = [];
  for (let at = 0; at < values.length; at++) {
    if (!sources[at]!.isLinked || groups.length === 0) {
      groups.push(values[at]!.map((value) => [value]));
    } else {
      const group = groups[groups.length - 1]!;
      const linked = values[at]!;
      group.length = Math.min(group.length, linked.length);
      for (let row = 0; row < group.length; row++) group[row]!.push(linked[row]!);
    }
  }
  let records: string[][] = [[]];
  for (const group of groups) {
    const next: string[][] = [];
    for (const record of records) for (const tuple of group) next.push([...record, ...tuple]);
    records = next;
  }
  return records;
}

function chunk(args: readonly string[], size: number, maxBytes: number): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let bytes = 0;
  for (const arg of args) {
    const length = Buffer.byteLength(arg) + 1;
    if (record.length > 0 && (record.length >= size || bytes + length > maxBytes)) {
      records.push(record);
      record = [];
      bytes = 0;
    }
    record.push(arg);
    bytes += length;
  }
  if (record.length > 0) records.push(record);
  return records;
}

function shuffle<T>(items: T[]): void {
  for (let at = items.length - 1; at > 0; at--) {
    const other = Math.floor(Math.random() * (at + 1));
    [items[at], items[other]] = [items[other]!, items[at]!];
  }
}

/**
 * Opens where the jobs' arguments come from. One stream (stdin, or one `-a`/`::::` file) is read as
 * jobs can start; several sources, `-m`/`-X` and `--shuf` read everything first, as GNU parallel
 * does. An unreadable file is a `UsageError`, raised before any job starts.
 */
export async function openRecords(options: RecordOptions): Promise<Records> {
  const { sources, colsep, perJob } = options;
  const delimiter = options.delimiter.charCodeAt(0);
  const isStreamed =
    sources.length <= 1 && sources[0]?.values === undefined && options.isMulti !== true && options.isShuffled !== true;
  if (isStreamed) {
    const path = sources[0]?.path;
    const isStdin = path === undefined || path === '-';
    const stream = isStdin
      ? options.stdin
      : createReadStream('', { fd: openFile(path, sources[0]!.what ?? ':::: file'), highWaterMark: 64 * 1024 });
    const reader = new LineReader(stream, options.delimiter);
    const source =
      colsep === undefined && perJob === undefined ? reader : new RecordReader(reader, perJob ?? 1, colsep);
    return {
      source,
      isStdin,
      total() {
        if (isStdin) return undefined;
        const items = countFileItems(path, delimiter, false);
        return items === undefined || perJob === undefined ? items : perJob === 0 ? items : Math.ceil(items / perJob);
      },
    };
  }
  const values: string[][] = [];
  for (const input of sources) {
    if (input.values !== undefined) values.push([...input.values]);
    else if (input.path === '-') values.push(splitItems(await readAll(options.stdin), delimiter));
    else {
      const fd = openFile(input.path!, input.what ?? ':::: file');
      try {
        values.push(splitItems(readFileSync(fd), delimiter));
      } finally {
        closeSync(fd);
      }
    }
  }
  if (sources.length === 0) values.push(splitItems(await readAll(options.stdin), delimiter));
  const inputs = sources.length === 0 ? [{ isLinked: false }] : sources;
  let records = combine(values, inputs);
  if (colsep !== undefined) records = records.map((record) => record.flatMap((value) => value.split(colsep)));
  if (perJob !== undefined || options.isMulti === true) {
    if (values.length > 1 || colsep !== undefined)
      throw new UsageError('-n, -N, -m and -X take one input source without --colsep');
    const args = records.map((record) => record[0]!);
    if (perJob === 0) records = args.map(() => []);
    else {
      const spread =
        options.isMulti === true && Number.isFinite(options.jobs) ? Math.ceil(args.length / options.jobs) : 1;
      const size = Math.min(
        perJob ?? Number.POSITIVE_INFINITY,
        options.isMulti === true ? Math.max(1, spread) : Number.POSITIVE_INFINITY,
      );
      records = chunk(args, size, options.isMulti === true ? MULTI_ARG_BYTES : Number.POSITIVE_INFINITY);
    }
  }
  if (options.isShuffled === true) shuffle(records);
  const count = records.length;
  return { source: new ListSource<readonly string[]>(records), isStdin: sources.length === 0, total: () => count };
}

/** Opens one stream of items for `lac fetch` (stdin, `-a FILE`, or the URLs given). */
export function openSource(options: {
  argFile?: string | undefined;
  list?: readonly string[] | undefined;
  isNull?: boolean | undefined;
  stdin: Readable;
}): LineReader | ListSource {
  if (options.argFile !== undefined && options.list !== undefined)
    throw new UsageError('use either -a FILE or URLs, not both');
  if (options.list !== undefined) return new ListSource(options.list);
  const separator = options.isNull ? '\0' : '\n';
  if (options.argFile === undefined) return new LineReader(options.stdin, separator);
  return new LineReader(
    createReadStream('', { fd: openFile(options.argFile, '-a file'), highWaterMark: 64 * 1024 }),
    separator,
  );
}

/**
 * The number of items in an `-a` file, counted before the run as GNU parallel does for `--bar`
 * and `--halt N%` (blank items left out when `isBlankSkipped`, as `lac fetch` skips them).
 */
export function countFileItems(path: string, separator: number, isBlankSkipped: boolean): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.allocUnsafe(256 * 1024);
    let count = 0;
    let isInItem = false;
    let isBlank = true;
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
      for (let at = 0; at < read; at++) {
        const byte = buffer[at]!;
        if (byte === separator) {
          if (!isBlankSkipped || !isBlank) count++;
          isInItem = false;
          isBlank = true;
        } else {
          isInItem = true;
          if (byte !== 32 && byte !== 9 && byte !== 13) isBlank = false;
        }
      }
    }
    if (isInItem && (!isBlankSkipped || !isBlank)) count++;
    return count;
  } finally {
    closeSync(fd);
  }
}
