// The codes a stranger meets most, in the words of strerror(3) (Node's own text for EISDIR is
// "illegal operation on a directory", whether the path was to be read or written).
const WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'file exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
};

/**
 * What went wrong with a file, in words, with the code to search for:
 * `no such file or directory (ENOENT)`. The caller's message already names the path.
 */
export function fileErrorReason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string') return String(message ?? error);
  // Node's message is `ENOENT: no such file or directory, open 'x'`.
  const words = WORDS[code] ?? new RegExp(`^${code}: ([^,]+)`).exec(message)?.[1];
  return words === undefined ? code : `${words} (${code})`;
}
