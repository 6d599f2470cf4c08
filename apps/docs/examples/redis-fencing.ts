import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { limitedAsCompleted, slotsFrom, type TaskContext } from '@lac/core';
import { type RedisLease, redisSlots } from '@lac/redis';

/** The protected resource: it accepts a write only with a token at least as high as any it has seen. */
class FencedStore {
  #highest = 0;
  readonly values: string[] = [];
  write(token: number, value: string): boolean {
    if (token < this.#highest) return false; // a holder whose lease ran out, after a newer one wrote
    this.#highest = token;
    this.values.push(value);
    return true;
  }
}

// A throwaway redis-server on 127.0.0.1 (a long-running Redis needs none of this).
const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close(() => resolve(port));
  });
});
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '']);
for (let output = ''; !output.includes('Ready to accept connections'); )
  output += (await once(server.stdout, 'data'))[0];

const client = new Redis({ port, host: '127.0.0.1' });
// Redis started a moment ago: a new epoch grants nothing for `quarantineMs` (default leaseMs). See the README.
// handoffMs 0: every task gets its own grant, so its own token (a slot passed on locally keeps its token).
const slots = redisSlots({ client, key: 'nightly-report', limit: 1, leaseMs: 1000, handoffMs: 0 });
const store = new FencedStore();
const tokens: number[] = [];
const tasks = ['draft', 'final'].map((value) => ({ slot }: TaskContext) => {
  const { token } = slot as RedisLease; // every grant of the limit carries a higher token
  tokens.push(token);
  return store.write(token, value);
});
try {
  for await (const accepted of limitedAsCompleted(tasks, 1, { slots: slotsFrom(slots) }))
    console.log(`write accepted: ${accepted}`);
  // A holder that stalled past its lease comes back and writes with the token it had: refused.
  console.log(`late write with the older token accepted: ${store.write(tokens[0]!, 'stale draft')}`);
  console.log(`store holds: ${store.values.join(', ')}`);
} finally {
  slots.close();
  client.disconnect();
  server.kill();
}
