import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted } from '@lac/core';

// An endless source. Nothing is pulled from it until a task can start.
let pulled = 0;
function* endless() {
  for (let n = 0; ; n++) {
    pulled++;
    yield () => n * n; // tasks may also return plain values
  }
}

const limit = 4;
const buffer = 2; // results that may wait for a slow consumer before no new task starts
const squares = limitedAsCompleted(endless(), limit, { buffer });
let consumed = 0;
for await (const square of squares) {
  await sleep(20); // a slow consumer: the run waits for it instead of racing ahead
  consumed++;
  console.log(`got ${square}: pulled ${pulled}, buffered ${squares.stats.buffered}`);
  if (consumed === 5) break; // early exit closes the endless generator
}
console.log(
  `consumed ${consumed}, pulled ${pulled} (at most consumed + limit + buffer = ${consumed + limit + buffer})`,
);
