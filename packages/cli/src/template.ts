import { quote } from 'shell-quote';

/** The replacement strings a template may hold, GNU parallel's names: `{}` `{.}` `{/}` `{//}` `{/.}`, the same with a position (`{2}`, `{2.}`...), `{#}` and `{%}`. */
const TOKEN_BODY = String.raw`(?:(\d+)?(\/\/|\/\.|\/|\.)|(\d+)|(#|%))`;

type TokenKind = '' | '.' | '/' | '//' | '/.' | '#' | '%';
interface Token {
  readonly token: TokenKind;
  /** `{2}`: the position of the argument, from 1; undefined for all of them. */
  readonly position: number | undefined;
}
type Part = string | Token;

/** How a template is compiled (the GNU parallel options that change it). */
export interface TemplateOptions {
  /** `-I STR`: STR stands for `{}` (and `{}` itself is plain text). */
  readonly replace?: string | undefined;
  /** `-X`: a word holding an argument-less replacement string is repeated once per argument. */
  readonly isContextReplace?: boolean | undefined;
  /** `--pipe`: jobs get their input on stdin, so no `{}` is appended to a template without one. */
  readonly isInputOnStdin?: boolean | undefined;
}

/** What a job's command becomes once its item is substituted. */
export interface RenderedCommand {
  /** The program and its arguments, when the template needs no shell (spawned directly). */
  readonly argv: readonly string[] | undefined;
  /** The command line with substituted values shell-quoted: what `/bin/sh -c` runs, the joblog and `--dry-run` show. */
  readonly line: string;
}

/** A command template compiled once and rendered per job. */
export interface CommandTemplate {
  /** True when the command is spawned directly, without `/bin/sh -c`. */
  readonly isDirect: boolean;
  /** `args`: the job's arguments (one item, or one per input source, `-n`, `--colsep`...). */
  render(args: string | readonly string[], seq: number, slot: number): RenderedCommand;
  /** The command line only (cheaper than `render` when only the text is needed). */
  renderLine(args: string | readonly string[], seq: number, slot: number): string;
}

// Words made of these characters mean the same to /bin/sh as to a plain split on blanks (`=` only
// after the command name: before it, a word with `=` is a variable assignment).
const PLAIN = /^[A-Za-z0-9_\-+.,/:@%^= \t]*$/;
// Shell builtins that have no executable of the same name (or behave differently as one).
const BUILTINS = new Set([
  '.',
  ':',
  'alias',
  'bg',
  'break',
  'cd',
  'command',
  'continue',
  'eval',
  'exec',
  'exit',
  'export',
  'fc',
  'fg',
  'getopts',
  'hash',
  'jobs',
  'local',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'source',
  'times',
  'trap',
  'type',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'wait',
]);

function transform(token: TokenKind, value: string): string {
  switch (token) {
    case '.':
      return withoutExtension(value);
    case '/':
      return basename(value);
    case '//':
      return dirname(value);
    case '/.':
      return withoutExtension(basename(value));
    default:
      return value;
  }
}

/** One argument's value for a positional token (`{2}`: empty when there is no second argument). */
function positional(part: Token, args: readonly string[]): string {
  const value = args[part.position! - 1];
  return value === undefined ? '' : transform(part.token, value);
}

/** A token's value as one word, for a job that has exactly one argument or a token that names one. */
function valueOf(part: Token, args: readonly string[], seq: number, slot: number): string {
  if (part.token === '#') return String(seq);
  if (part.token === '%') return String(slot);
  if (part.position !== undefined) return positional(part, args);
  return transform(part.token, args[0] ?? '');
}

/** A token's text in a shell line: each argument shell-quoted, several joined with spaces (as GNU parallel). */
function quotedValueOf(part: Token, args: readonly string[], seq: number, slot: number): string {
  if (part.token === '#' || part.token === '%' || part.position !== undefined || args.length === 1)
    return quote([valueOf(part, args, seq, slot)]);
  let text = '';
  for (let at = 0; at < args.length; at++) text += (at === 0 ? '' : ' ') + quote([transform(part.token, args[at]!)]);
  return text;
}

function isMulti(part: Part): boolean {
  return typeof part !== 'string' && part.position === undefined && part.token !== '#' && part.token !== '%';
}

/** `{/}`: the part after the last slash. */
function basename(item: string): string {
  return item.slice(item.lastIndexOf('/') + 1);
}

/** `{//}`: the part before the last slash, `.` when there is none. */
function dirname(item: string): string {
  const at = item.lastIndexOf('/');
  if (at < 0) return '.';
  return at === 0 ? '/' : item.slice(0, at);
}

/** `{.}`: the item without the extension of its last path component (a leading dot is not an extension). */
function withoutExtension(item: string): string {
  const slash = item.lastIndexOf('/');
  const dot = item.lastIndexOf('.');
  return dot > slash + 1 ? item.slice(0, dot) : item;
}

function tokenPattern(replace: string | undefined): RegExp {
  if (replace === undefined || replace === '{}') return new RegExp(String.raw`\{${TOKEN_BODY}?\}`, 'g');
  // `-I STR`: STR is the whole-argument token and `{}` is plain text.
  const escaped = replace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(String.raw`${escaped}|\{${TOKEN_BODY}\}`, 'g');
}

function parse(text: string, pattern: RegExp): Part[] {
  const parts: Part[] = [];
  let last = 0;
  // matchAll copies the regex's lastIndex, which test() may have moved.
  pattern.lastIndex = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const position = match[1] ?? match[3];
    parts.push({
      token: (match[2] ?? match[4] ?? '') as TokenKind,
      position: position === undefined ? undefined : Number(position),
    });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/**
 * Compiles the words after the options into a command template, as GNU parallel does: the words are
 * joined with spaces into one shell command line, and each replacement string becomes its value,
 * shell-quoted. With no replacement string, ` {}` is appended. When the line has no shell syntax
 * at all (no quotes, `$`, `;`, `|`, `>`, globs, builtins...), it is split on blanks and spawned
 * directly, which skips a /bin/sh per job and gives the same result.
 *
 * @param words - The command's words after the options, as the shell split them (`['convert', '{}', '{.}.png']`).
 *
 * @param options - `replace` (`-I STR`: STR stands for `{}`), `isContextReplace` (`-X`: a word with an
 * argument-less replacement string is repeated per argument) and `isInputOnStdin` (`--pipe`: no `{}` is appended).
 *
 * @returns A `CommandTemplate` whose `render(item, seq, slot)` gives the command to run for one input item.
 *
 * @throws Does not throw: any list of words compiles to a template.
 *
 * @example
 * ```ts
 * const template = compileTemplate(['convert', '{}', '{.}.png']);
 * const command = template.render('photo.jpg', 1, 1); // convert photo.jpg photo.png
 * ```
 */
export function compileTemplate(words: readonly string[], options: TemplateOptions = {}): CommandTemplate {
  const pattern = tokenPattern(options.replace);
  let text = words.join(' ');
  pattern.lastIndex = 0;
  if (!pattern.test(text) && options.isInputOnStdin !== true) text += ` ${options.replace ?? '{}'}`;
  const lineParts = parse(text, pattern);
  const literal = text.replace(pattern, '');
  const split = text.split(/[ \t]+/).filter((word) => word !== '');
  const first = split[0] ?? '';
  const isDirect =
    PLAIN.test(literal) && split.length > 0 && !BUILTINS.has(first) && !first.startsWith('{') && !first.includes('=');
  const isContextReplace = options.isContextReplace === true;
  // -X: the line's words, each parsed, so a word with an argument-less token is repeated per argument.
  const contextWords = isContextReplace ? text.split(/([ \t]+)/).map((word) => parse(word, pattern)) : undefined;

  const renderParts = (parts: readonly Part[], args: readonly string[], seq: number, slot: number): string => {
    let line = '';
    for (const part of parts) line += typeof part === 'string' ? part : quotedValueOf(part, args, seq, slot);
    return line;
  };
  const renderLine = (input: string | readonly string[], seq: number, slot: number): string => {
    const args = typeof input === 'string' ? [input] : input;
    if (contextWords === undefined || args.length === 1) return renderParts(lineParts, args, seq, slot);
    let line = '';
    for (const parts of contextWords) {
      if (!parts.some(isMulti)) line += renderParts(parts, args, seq, slot);
      else line += args.map((arg) => renderParts(parts, [arg], seq, slot)).join(' ');
    }
    return line;
  };

  if (!isDirect) {
    return {
      isDirect,
      render: (args, seq, slot) => ({ argv: undefined, line: renderLine(args, seq, slot) }),
      renderLine,
    };
  }
  const wordParts = split.map((word) => parse(word, pattern));
  const hasMulti = wordParts.some((parts) => parts.some(isMulti));
  return {
    isDirect,
    render(input, seq, slot) {
      const args = typeof input === 'string' ? [input] : input;
      // `{}` over several arguments is several words: /bin/sh splits the quoted line as GNU parallel's does.
      if (hasMulti && args.length !== 1) return { argv: undefined, line: renderLine(args, seq, slot) };
      const argv = wordParts.map((parts) => {
        let word = '';
        for (const part of parts) word += typeof part === 'string' ? part : valueOf(part, args, seq, slot);
        return word;
      });
      return {
        argv,
        get line() {
          return renderLine(args, seq, slot);
        },
      };
    },
    renderLine,
  };
}
