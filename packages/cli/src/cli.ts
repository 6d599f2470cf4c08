#!/usr/bin/env node
import { main } from './main.js';

// A stdout nobody reads any more (`lac --help | head -1`) must not end lac with a stack trace. The
// commands stop early on it themselves; whatever the command, output was lost: the status is 255.
process.stdout.on('error', () => {
  process.exitCode = 255;
});
process.stderr.on('error', () => {});

// Exit by setting the status, not process.exit(), so buffered output to pipes is flushed first.
main(process.argv.slice(2)).then(
  (status) => {
    if (process.exitCode !== 255) process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`lac: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = 255;
  },
);
