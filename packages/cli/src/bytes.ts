import { isUtf8 } from 'node:buffer';

// Items are bytes (file names need not be UTF-8), but templates, quoting and Node's spawn work on
// strings. As Python's `surrogateescape`: a byte that is not part of valid UTF-8 becomes the lone
// surrogate U+DC80 + (byte - 0x80), which no valid UTF-8 text decodes to, and turns back into
// that byte on the way out. Valid UTF-8 (nearly every item) takes the plain `toString` path.

const ESCAPED = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

/** Decodes `data[start, end)` losslessly: valid UTF-8 as text, every other byte as an escape. */
export function decodeItem(data: Buffer, start = 0, end = data.length): string {
  const text = data.toString('utf8', start, end);
  if (!text.includes('\uFFFD')) return text;
  const bytes = data.subarray(start, end);
  return isUtf8(bytes) ? text : decodeEscaped(bytes);
}

function sequenceLength(bytes: Buffer, at: number): number {
  const first = bytes[at]!;
  if (first < 0x80) return 1;
  let length: number;
  let min: number;
  if (first >= 0xc2 && first <= 0xdf) [length, min] = [2, 0x80];
  else if (first >= 0xe0 && first <= 0xef) [length, min] = [3, 0x800];
  else if (first >= 0xf0 && first <= 0xf4) [length, min] = [4, 0x10000];
  else return 0;
  if (at + length > bytes.length) return 0;
  let code = first & (0xff >> (length + 1));
  for (let i = 1; i < length; i++) {
    const next = bytes[at + i]!;
    if ((next & 0xc0) !== 0x80) return 0;
    code = (code << 6) | (next & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return length;
}

function decodeEscaped(bytes: Buffer): string {
  let text = '';
  let at = 0;
  while (at < bytes.length) {
    const length = sequenceLength(bytes, at);
    if (length === 0) {
      text += String.fromCharCode(0xdc00 + bytes[at]!);
      at++;
    } else {
      text += bytes.toString('utf8', at, at + length);
      at += length;
    }
  }
  return text;
}

/** True when `text` holds an escaped byte: Node would encode it as U+FFFD, so it needs `encodeItem`. */
export function hasEscapedBytes(text: string): boolean {
  return ESCAPED.test(text);
}

/** The bytes `text` stands for: the inverse of `decodeItem`. */
export function encodeItem(text: string): Buffer {
  if (!hasEscapedBytes(text)) return Buffer.from(text);
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = 0; at < text.length; at++) {
    const unit = text.charCodeAt(at);
    if (unit < 0xdc80 || unit > 0xdcff) continue;
    const before = at > 0 ? text.charCodeAt(at - 1) : 0;
    if (before >= 0xd800 && before <= 0xdbff) continue;
    parts.push(Buffer.from(text.slice(from, at)), Buffer.of(unit - 0xdc00));
    from = at + 1;
  }
  parts.push(Buffer.from(text.slice(from)));
  return Buffer.concat(parts);
}

/** A `printf` format that prints exactly `bytes`, safe inside single quotes. */
function printfFormat(bytes: Buffer): string {
  let format = '';
  for (const byte of bytes) {
    const isPlain = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    format += isPlain ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return format;
}

// Command substitution drops trailing newlines: print an `x` after the bytes and strip it.
function assignment(name: string, text: string): string {
  return `${name}=$(printf '${printfFormat(encodeItem(text))}x'); ${name}=\${${name}%x}`;
}

/**
 * An ASCII `/bin/sh -c` script that runs `argv` with its exact bytes: Node encodes every argument
 * of `spawn` as UTF-8, so the bytes travel as `printf` escapes and the shell rebuilds them.
 */
export function byteExactArgvScript(argv: readonly string[]): string {
  const lines = ['set --'];
  for (const word of argv) lines.push(`${assignment('lac_word', word)}; set -- "$@" "$lac_word"`);
  lines.push('unset lac_word', 'exec "$@"');
  return lines.join('\n');
}

/** The same for a shell command line: rebuilt byte for byte, then `eval`ed. */
export function byteExactLineScript(line: string): string {
  return `${assignment('lac_line', line)}\neval "unset lac_line; $lac_line"`;
}
