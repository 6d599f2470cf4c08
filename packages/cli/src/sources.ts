import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { type ItemSource, LineReader, ListSource } from './line-reader.js';

/** A mistake in how lac was called: printed as one line, exit status 255, no job started. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface SourceOptions {
  /** `-a FILE` */
  readonly argFile?: string | undefined;
  /** Items after `:::` */
  readonly list?: readonly string[] | undefined;
  /** `-0`: NUL-separated input. */
  readonly isNull?: boolean | undefined;
  readonly stdin: Readable;
}

/** Opens where the items come from; an unreadable `-a` file is a `UsageError`, raised before any job starts. */
export function openSource(options: SourceOptions): ItemSource {
  if (options.argFile !== undefined && options.list !== undefined) {
    throw new UsageError('use either -a FILE or ::: items, not both');
  }
  if (options.list !== undefined) return new ListSource(options.list);
  const separator = options.isNull ? '\0' : '\n';
  if (options.argFile === undefined) return new LineReader(options.stdin, separator);
  let fd: number;
  try {
    fd = openSync(options.argFile, 'r');
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new UsageError(`cannot read -a file '${options.argFile}': ${code || (error as Error).message}`);
  }
  return new LineReader(createReadStream('', { fd, highWaterMark: 64 * 1024 }), separator);
}

// GNU parallel syntax lac does not implement: refused, never run as literal text.
const UNSUPPORTED_SEPARATORS: Record<string, string> = {
  '::::': '`::::` (argument files; use -a FILE)',
  ':::+': '`:::+` (linked input sources)',
  '::::+': '`::::+` (linked argument files)',
};
const UNSUPPORTED_TOKEN = /\{(?:-?\d+(?:\.|\/|\/\/|\/\.)?|\+\/|\+\.+|\.\.+|\/\.\.+|##|-?\d*=[\s\S]*?=)\}/;

/** Refuses GNU parallel syntax that lac would otherwise pass on as literal text. */
function refuseUnsupported(words: readonly string[]): void {
  for (const word of words) {
    const separator = UNSUPPORTED_SEPARATORS[word];
    if (separator !== undefined) throw new UsageError(`${separator} is GNU parallel syntax that lac does not support`);
  }
  const token = UNSUPPORTED_TOKEN.exec(words.join(' '));
  if (token !== null) throw new UsageError(`the replacement string \`${token[0]}\` is GNU parallel syntax that lac does not support (see lac --help)`);
}

/** Splits the words after the options at `:::` into the command and the items. */
export function splitList(words: readonly string[]): { command: string[]; list: string[] | undefined } {
  const at = words.indexOf(':::');
  refuseUnsupported(at === -1 ? words : words.slice(0, at));
  if (at !== -1) for (const word of words.slice(at + 1)) if (UNSUPPORTED_SEPARATORS[word] !== undefined) refuseUnsupported([word]);
  if (at === -1) return { command: [...words], list: undefined };
  const list = words.slice(at + 1);
  if (list.includes(':::')) throw new UsageError('only one ::: list is supported');
  return { command: words.slice(0, at), list };
}

/**
 * The number of items in an `-a` file, counted before the run as GNU parallel does for `--bar`
 * and `--halt N%` (blank items left out when `isBlankSkipped`, as `lac fetch` skips them).
 */
export function countFileItems(path: string, isNull: boolean, isBlankSkipped: boolean): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const separator = isNull ? 0 : 10;
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
