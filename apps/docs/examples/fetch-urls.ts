import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { limitedMap } from '@lac/core';

// A local server that answers slowly and counts how many requests it is serving at once.
let active = 0;
let peak = 0;
const server = createServer((request, response) => {
  peak = Math.max(peak, ++active);
  setTimeout(() => {
    active--;
    response.end(JSON.stringify({ path: request.url }));
  }, 20);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

const urls = Array.from({ length: 30 }, (_, i) => `http://127.0.0.1:${port}/item/${i}`);
let ok = 0;
for await (const status of limitedMap(urls, 5, async (url, { signal }) => (await fetch(url, { signal })).status)) {
  if (status === 200) ok++;
}
server.close();
server.closeAllConnections(); // fetch keeps connections alive; let the process exit now
console.log(`${ok}/${urls.length} OK, at most ${peak} requests at once on the server`);
