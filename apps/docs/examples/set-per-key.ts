import { limitedMap, perKey } from '@lac/core';

// A host says "too many requests": from now on, one request at a time per host (setPerKey).
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const urls = ['a', 'b', 'c'].flatMap((host) => Array.from({ length: 6 }, (_, i) => `https://${host}.example/${i}`));

const running = new Map<string, number>();
let isThrottled = false;
let peakBefore = 0;
let peakAfter = 0;
const fetchPage = async (url: string) => {
  const host = new URL(url).host;
  running.set(host, (running.get(host) ?? 0) + 1);
  if (isThrottled) peakAfter = Math.max(peakAfter, running.get(host)!);
  else peakBefore = Math.max(peakBefore, running.get(host)!);
  await sleep(10);
  running.set(host, running.get(host)! - 1);
  return url.endsWith('/1') ? 429 : 200;
};

const pages = limitedMap(urls, 6, fetchPage, { perKey: perKey((url) => new URL(url).host, 2) });
let count = 0;
for await (const status of pages) {
  count++;
  if (status === 429 && !isThrottled) {
    isThrottled = true;
    pages.setPerKey(1); // tasks already running finish; a host starts its next page once none of it runs
  }
}
console.log(`${count} pages, at most ${peakBefore} per host before the 429, ${peakAfter} after`);
