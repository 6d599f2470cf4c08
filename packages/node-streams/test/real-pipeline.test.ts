import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import split2 from 'split2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitedTransform } from '@lac/node-streams';
import { concurrencyProbe, measureHeld, settle } from './helpers.js';

const LINES = 100_000;

describe('a real file pipeline', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lac-node-streams-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('moves every line of a 100k-line file through the stage into a file behind a slow writer, within the bound', async () => {
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    await writeFile(input, `${Array.from({ length: LINES }, (_, i) => `line ${i}`).join('\n')}\n`);

    const limit = 8;
    const highWaterMark = 16;
    const probe = concurrencyProbe();
    const stage = limitedTransform(
      limit,
      async (line: string, { index }) => {
        probe.enter();
        // Uneven mapper durations, so results come out of order.
        if (index % 7 === 0) await settle(1 + (index % 3));
        probe.leave();
        return `${line.toUpperCase()}\n`;
      },
      { highWaterMark },
    );

    // The deliberately slow writer: every write waits a turn of the event loop before it goes to the file.
    const file = createWriteStream(output);
    const slowWriter = new Writable({
      objectMode: true,
      highWaterMark: 4,
      write(text: string, _encoding, callback) {
        setImmediate(() => {
          if (file.write(text)) callback();
          else file.once('drain', () => callback());
        });
      },
      final(callback) {
        file.end(callback);
      },
    });
    const held = measureHeld(stage, slowWriter);

    await pipeline(createReadStream(input, { highWaterMark: 64 * 1024 }), split2(), stage, slowWriter);

    const lines = (await readFile(output, 'utf8')).split('\n').filter((line) => line.length > 0);
    expect(lines).toHaveLength(LINES);
    const seen = new Set(lines);
    expect(seen.size).toBe(LINES);
    const missing = Array.from({ length: LINES }, (_, i) => `LINE ${i}`).filter((line) => !seen.has(line));
    expect(missing).toEqual([]);
    expect(probe.maxRunning).toBeLessThanOrEqual(limit);
    // limit + buffer (= limit) + the readable and writable highWaterMarks.
    expect(held.maxHeld).toBeGreaterThan(limit);
    expect(held.maxHeld).toBeLessThanOrEqual(limit + limit + 2 * highWaterMark);
  });
});
