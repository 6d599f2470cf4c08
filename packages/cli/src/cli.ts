#!/usr/bin/env node
import { main } from './main.js';

// Exit by setting the status, not process.exit(), so buffered output to pipes is flushed first.
main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`lac: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = 255;
  },
);
