import { quote } from 'shell-quote';

/** The replacement strings a template may hold, GNU parallel's names. */
const TOKEN = /\{(\/\/|\/\.|\/|\.|#|%)?\}/g;

type TokenKind = '' | '.' | '/' | '//' | '/.' | '#' | '%';
type Part = string | { readonly token: TokenKind };

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
  render(item: string, seq: number, slot: number): RenderedCommand;
  /** The command line only (cheaper than `render` when only the text is needed). */
  renderLine(item: string, seq: number, slot: number): string;
}

// Words made of these characters mean the same to /bin/sh as to a plain split on blanks (`=` only
// after the command name: before it, a word with `=` is a variable assignment).
const PLAIN = /^[A-Za-z0-9_\-+.,/:@%^= \t]*$/;
// Shell builtins that have no executable of the same name (or behave differently as one).
const BUILTINS = new Set([
  '.', ':', 'alias', 'bg', 'break', 'cd', 'command', 'continue', 'eval', 'exec', 'exit', 'export', 'fc', 'fg',
  'getopts', 'hash', 'jobs', 'local', 'read', 'readonly', 'return', 'set', 'shift', 'source', 'times', 'trap',
  'type', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
]);

function valueOf(token: TokenKind, item: string, seq: number, slot: number): string {
  switch (token) {
    case '':
      return item;
    case '.':
      return withoutExtension(item);
    case '/':
      return basename(item);
    case '//':
      return dirname(item);
    case '/.':
      return withoutExtension(basename(item));
    case '#':
      return String(seq);
    case '%':
      return String(slot);
  }
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

function parse(text: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  // matchAll copies the regex's lastIndex, which test() may have moved.
  TOKEN.lastIndex = 0;
  for (const match of text.matchAll(TOKEN)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ token: (match[1] ?? '') as TokenKind });
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
export function compileTemplate(words: readonly string[]): CommandTemplate {
  let text = words.join(' ');
  TOKEN.lastIndex = 0;
  if (!TOKEN.test(text)) text += ' {}';
  const lineParts = parse(text);
  const literal = text.replace(TOKEN, '');
  const split = text.split(/[ \t]+/).filter((word) => word !== '');
  const first = split[0] ?? '';
  const isDirect =
    PLAIN.test(literal) && split.length > 0 && !BUILTINS.has(first) && !first.startsWith('{') && !first.includes('=');

  const renderLine = (item: string, seq: number, slot: number): string => {
    let line = '';
    for (const part of lineParts) line += typeof part === 'string' ? part : quote([valueOf(part.token, item, seq, slot)]);
    return line;
  };

  if (!isDirect) {
    return {
      isDirect,
      render: (item, seq, slot) => ({ argv: undefined, line: renderLine(item, seq, slot) }),
      renderLine,
    };
  }
  const wordParts = split.map(parse);
  return {
    isDirect,
    render(item, seq, slot) {
      const argv = wordParts.map((parts) => {
        let word = '';
        for (const part of parts) word += typeof part === 'string' ? part : valueOf(part.token, item, seq, slot);
        return word;
      });
      return {
        argv,
        get line() {
          return renderLine(item, seq, slot);
        },
      };
    },
    renderLine,
  };
}
