// A small HTTP server for the fetch benchmark, in its own process so the benchmark's timing loop
// does not share its event loop. Prints its port, serves a 256-byte body for every path.
import { createServer } from 'node:http';

const body = Buffer.alloc(256, 'x');
const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  response.end(body);
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
