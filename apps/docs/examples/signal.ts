import { setTimeout as sleep } from 'node:timers/promises';
import { limitedMap } from '@lac/core';

// Stop the whole run from outside: a Ctrl-C handler, a request's signal, or a deadline as here.
const signal = AbortSignal.timeout(250);
const files = Array.from({ length: 20 }, (_, i) => `file-${i}.txt`);

let processed = 0;
try {
  for await (const name of limitedMap(
    files,
    2,
    async (file, context) => {
      await sleep(100, undefined, { signal: context.signal });
      return file;
    },
    { signal },
  )) {
    processed++;
    console.log('processed', name);
  }
} catch (error) {
  // next() rejects with signal.reason: here a DOMException named TimeoutError.
  console.log(`stopped after ${processed} files: ${(error as Error).name}`);
}
