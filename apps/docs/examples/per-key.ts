import { limitedMap, perKey } from '@lac/core';

// Crawl many hosts: at most 2 requests per host, 6 in all; a busy host does not stall the others.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const urls = ['a', 'b', 'c'].flatMap((host) => Array.from({ length: 5 }, (_, i) => `https://${host}.example/${i}`));

const running = new Map<string, number>();
let peakPerHost = 0;
const fetchPage = async (url: string) => {
  const host = new URL(url).host;
  running.set(host, (running.get(host) ?? 0) + 1);
  peakPerHost = Math.max(peakPerHost, running.get(host)!);
  await sleep(10);
  running.set(host, running.get(host)! - 1);
  return url;
};

let count = 0;
for await (const _ of limitedMap(urls, 6, fetchPage, { perKey: perKey((url) => new URL(url).host, 2) })) count++;
console.log(`${count} pages, at most ${peakPerHost} at once per host`);
