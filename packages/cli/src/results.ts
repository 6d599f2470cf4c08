import { mkdirSync, writeFileSync } from 'node:fs';
import { encodeItem } from './bytes.js';
import type { JobOutcome } from './job.js';

/** An argument as a directory name, as GNU parallel writes it: `\` becomes `\\` and `/` becomes `\_`. */
function directoryName(arg: string): Buffer {
  return encodeItem(arg.replace(/\\/g, '\\\\').replace(/\//g, '\\_'));
}

/**
 * `--results DIR`: a job's stdout, stderr and seq go to `DIR/1/ARG1/2/ARG2/...`, GNU parallel's
 * layout (one level pair per argument).
 */
export function writeResults(dir: string, item: string | readonly string[], seq: number, outcome: JobOutcome): void {
  const parts: Buffer[] = [encodeItem(dir)];
  const args = typeof item === 'string' ? [item] : item;
  for (let at = 0; at < args.length; at++) parts.push(Buffer.from(`/${at + 1}/`), directoryName(args[at]!));
  const base = Buffer.concat(parts);
  mkdirSync(base, { recursive: true });
  const file = (name: string) => Buffer.concat([base, Buffer.from(`/${name}`)]);
  writeFileSync(file('stdout'), Buffer.concat(outcome.stdout));
  writeFileSync(file('stderr'), Buffer.concat(outcome.stderr));
  writeFileSync(file('seq'), String(seq));
}
