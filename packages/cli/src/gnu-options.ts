import { InvalidArgumentError } from 'commander';

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\' };

/** `-d DELIM`: one ASCII character, or an escape `\n` `\t` `\r` `\0` `\\` `\xHH` (as GNU parallel's). */
export function parseDelimiter(value: string): string {
  const hex = /^\\x([0-9a-fA-F]{2})$/.exec(value);
  const delimiter =
    hex !== null
      ? String.fromCharCode(Number.parseInt(hex[1]!, 16))
      : value.length === 2 && value[0] === '\\'
        ? ESCAPES[value[1]!]
        : value;
  if (delimiter === undefined || delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7f) {
    throw new InvalidArgumentError(`Expected one ASCII character or \\n \\t \\r \\0 \\\\ \\xHH, got \`${value}\`.`);
  }
  return delimiter;
}

/** `--colsep REGEXP`: a JavaScript regular expression that separates the columns. */
export function parseColsep(value: string): RegExp {
  if (value === '') throw new InvalidArgumentError('Expected a regular expression, got an empty string.');
  try {
    return new RegExp(value);
  } catch (error) {
    throw new InvalidArgumentError(`Expected a regular expression, got \`${value}\` (${(error as Error).message}).`);
  }
}

/** `--timeout SECONDS` or `--timeout N%` (N percent of the median run time of the successful jobs so far). */
export function parseTimeout(value: string): { readonly ms: number } | { readonly percent: number } {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (percent !== null && Number(percent[1]) > 0) return { percent: Number(percent[1]) };
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError(`Expected a number of seconds > 0 or a percentage like \`200%\`, got \`${value}\`.`);
  }
  return { ms: seconds * 1000 };
}

// GNU parallel options lac does not implement: named in the refusal rather than "unknown option".
const UNSUPPORTED = new Set([
  '--pipepart',
  '-S',
  '--sshlogin',
  '--transfer',
  '--return',
  '--cleanup',
  '--trc',
  '--basefile',
  '--env',
  '--fg',
  '--bg',
  '--semaphore',
  '--sem',
  '--tmux',
  '--xapply',
  '--link',
  '--header',
  '--tagstring',
  '--linebuffer',
  '--nice',
  '--termseq',
  '--retry-failed',
  '--sqlmaster',
  '--sqlworker',
  '--csv',
  '--group-by',
  '--shebang',
  '--filter-hosts',
  '--compress',
  '--files',
  '--ctag',
  '--ctagstring',
  '--plus',
  '--quote',
  '-q',
  '--max-line-length',
  '-s',
  '--max-chars',
  '-E',
  '--eof',
  '-L',
  '--max-lines',
  '-l',
  '--arg-sep',
  '--arg-file-sep',
  '--workdir',
  '--wd',
  '--limit',
  '--rpl',
  '--tmpdir',
]);

/**
 * Commander's "unknown option" for a GNU parallel option lac lacks says so, naming it. (Options
 * lac has under the same name, in the list too, never reach this: commander knows them.)
 */
export function describeUnknownOption(text: string): string {
  const match = /unknown option '([^'=]+)/.exec(text);
  if (match === null || !UNSUPPORTED.has(match[1]!)) return text;
  return `${match[1]} is a GNU parallel option that lac does not support (see the option table in lac's README)\n`;
}
