// The baseline for `lac fetch`: a plain Node fetch loop, N workers sharing one list of URLs (read
// from stdin), each reading the body and printing one JSON line, as lac fetch does.
const concurrency = Number(process.argv[2] ?? 64);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const urls = input.split('\n').filter((url) => url !== '');
let next = 0;
async function worker() {
  while (next < urls.length) {
    const url = urls[next++];
    const started = performance.now();
    const response = await fetch(url);
    let bytes = 0;
    for await (const chunk of response.body) bytes += chunk.length;
    process.stdout.write(
      `${JSON.stringify({ url, status: response.status, bytes, ms: Math.round(performance.now() - started) })}\n`,
    );
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
