import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

// Starts a throwaway redis-server on 127.0.0.1, then three worker processes that share one limit of 5.
const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close(() => resolve(port));
  });
});
const server = spawn('redis-server', [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
]);
for (let output = ''; !output.includes('Ready to accept connections'); )
  output += (await once(server.stdout, 'data'))[0];

try {
  const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` };
  const runWorker = () =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/redis-worker.ts'], { env });
  const workers = await Promise.all([runWorker(), runWorker(), runWorker()]);
  const results = workers.map(({ stdout }) => JSON.parse(stdout) as { done: number; peak: number });
  const done = results.reduce((sum, result) => sum + result.done, 0);
  const peak = Math.max(...results.map((result) => result.peak));
  console.log(`3 workers finished ${done} tasks, at most ${peak} running at once across all of them (limit 5)`);
} finally {
  server.kill();
}
