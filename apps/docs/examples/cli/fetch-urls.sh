#!/usr/bin/env bash
# GET a list of URLs in-process, 8 at a time, one JSON line per URL; here from a local test server.
set -euo pipefail
dir=$(mktemp -d) && cd "$dir"
node -e "require('node:http').createServer((q, s) => s.end(q.url)).listen(0, '127.0.0.1', function () {
  require('node:fs').writeFileSync('port', String(this.address().port)) })" & server=$!
trap 'kill $server; rm -rf "$dir"' EXIT
until [ -s port ]; do sleep 0.1; done
for i in $(seq 20); do echo "http://127.0.0.1:$(cat port)/page/$i"; done > urls.txt
lac fetch -j 8 --retries 2 < urls.txt > results.jsonl
echo "$(grep -c '"status":200' results.jsonl) of $(wc -l < urls.txt) URLs fetched"
