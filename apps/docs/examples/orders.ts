import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type TaskContext } from '@lac/core';

const durations = [300, 50, 200, 100];
// A fresh list of tasks each time: a task is a function, called once, when its slot is free.
const makeTasks = () =>
  durations.map((ms, index) => async ({ signal }: TaskContext) => {
    await sleep(ms, undefined, { signal });
    return index;
  });

const completionOrder: number[] = [];
for await (const index of limitedAsCompleted(makeTasks(), 4)) completionOrder.push(index);

const sourceOrder: number[] = [];
for await (const index of limitedAsCompleted(makeTasks(), 4, { ordered: true })) sourceOrder.push(index);

console.log('completion order:', completionOrder.join(' ')); // 1 3 2 0
console.log('source order:', sourceOrder.join(' ')); // 0 1 2 3
