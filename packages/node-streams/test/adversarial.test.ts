// Regression tests from attacking the stages as a hostile user and an unlucky scheduler would:
// destroy at every moment, reentrant calls from mappers and listeners, hostile sources.
import { type Readable, Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { limitedTransform } from '@lac/node-streams';
import { settle } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Records the lifecycle events of a stream, in order. */
function lifecycle(stream: Readable): string[] {
  const log: string[] = [];
  for (const name of ['finish', 'end', 'close', 'error']) stream.on(name, () => log.push(name));
  return log;
}

describe('limitedTransform destroyed at every moment', () => {
  it("destroy() inside a 'data' listener emits no 'end' afterwards, as with a Transform", async () => {
    // Every result is buffered (and the end pushed) before the stream starts flowing, so the
    // listener runs from Node's flow loop; a Transform fed the same way is the reference.
    const reference = new Transform({
      objectMode: true,
      transform: (x: number, _encoding, callback) => void Promise.resolve().then(() => callback(null, x)),
    });
    const stage = limitedTransform(2, async (x: number) => x);
    const logs = [lifecycle(reference), lifecycle(stage)];
    for (const stream of [reference, stage]) {
      stream.on('data', (x: number) => {
        if (x === 3) stream.destroy();
      });
      for (const i of range(10)) stream.write(i);
      stream.end();
    }
    await settle(20);
    for (const log of logs) {
      expect(log).not.toContain('end');
      expect(log.at(-1)).toBe('close');
    }
  });
});
