// One benchmark worker process: waits for "go" on stdin, runs its tasks through limitedAsCompleted
// (with or without the shared Redis limit) and prints one JSON line of measurements.
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { limitedAsCompleted, slotsFrom } from '@lac/core';
import { redisSlots } from '../dist/index.js';

const config = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();

const client = config.shared ? new Redis({ port: config.port, host: '127.0.0.1' }) : undefined;
client?.on('error', () => {});
const slots = config.shared
  ? // The benchmark's redis-server was started a moment ago: without quarantineMs 0 a new key would wait out the quarantine.
    redisSlots({ client, key: config.key, limit: config.shared, leaseMs: 10_000, quarantineMs: 0 })
  : undefined;
if (client) await client.ping();

let busy = 0;
let firstStart = Infinity;
let lastEnd = 0;
const wait =
  config.taskMs > 0
    ? () => new Promise((resolve) => setTimeout(resolve, config.taskMs))
    : () => new Promise((resolve) => setImmediate(resolve));
function* tasks() {
  for (let i = 0; i < config.tasks; i++) {
    yield async () => {
      const start = now();
      if (start < firstStart) firstStart = start;
      await wait();
      const end = now();
      busy += end - start;
      if (end > lastEnd) lastEnd = end;
      return i;
    };
  }
}

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === 'go') break;
lines.close();
const started = now();
let count = 0;
for await (const _ of limitedAsCompleted(tasks(), config.local, slots ? { slots: slotsFrom(slots) } : undefined))
  count++;
const finished = now();
process.stdout.write(
  `${JSON.stringify({ count, started, finished, busy, firstStart, lastEnd, commands: slots?.stats.commands ?? 0, stats: slots?.stats })}\n`,
);
slots?.close();
client?.quit();
