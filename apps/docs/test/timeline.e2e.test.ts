// The live timeline page in real headless Chromium (Debian's /usr/bin/chromium via playwright-core):
// the page runs @lac/core in the browser, and these tests read what it drew.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromiumPath, launchChromium } from './browser.js';
import { docsDir, serveSite } from './site.js';

interface DrawnBar {
  index: number;
  start: number;
  end: number | undefined;
  startSeq: number;
  endSeq: number | undefined;
  status: string;
}

const artifactsDir = join(docsDir, 'test-artifacts');
let browser: Browser;
let page: Page;
let site: Awaited<ReturnType<typeof serveSite>>;
const pageErrors: string[] = [];

beforeAll(async () => {
  site = await serveSite();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(`${site.url}/timeline.html`);
  // <ClientOnly> renders the component after hydration.
  await page.getByTestId('run').waitFor({ state: 'visible' });
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

async function configure(settings: {
  count: number;
  limit: number;
  minMs: number;
  maxMs: number;
  failurePercent: number;
  mode: string;
}): Promise<void> {
  await page.getByTestId('input-count').fill(String(settings.count));
  await page.getByTestId('input-limit').fill(String(settings.limit));
  await page.getByTestId('input-min-ms').fill(String(settings.minMs));
  await page.getByTestId('input-max-ms').fill(String(settings.maxMs));
  await page.getByTestId('input-failure-rate').fill(String(settings.failurePercent));
  await page.getByTestId('input-consumer-ms').fill('0');
  await page.getByTestId('input-mode').selectOption(settings.mode);
}

async function waitForStatus(status: string): Promise<void> {
  await page.waitForFunction(
    (expected) => document.querySelector('[data-testid="status"]')?.getAttribute('data-status') === expected,
    status,
    {
      timeout: 60_000,
    },
  );
}

async function readBars(): Promise<DrawnBar[]> {
  return page.$$eval('[data-testid="bar"]', (elements) =>
    elements.map((element) => {
      const number = (name: string) => {
        const value = element.getAttribute(name);
        return value === null || value === '' ? undefined : Number(value);
      };
      return {
        index: number('data-index')!,
        start: number('data-start')!,
        end: number('data-end'),
        startSeq: number('data-start-seq')!,
        endSeq: number('data-end-seq'),
        status: element.getAttribute('data-status') ?? '',
      };
    }),
  );
}

async function readOrder(testId: string): Promise<number[]> {
  const order = (await page.getByTestId(testId).getAttribute('data-order')) ?? '';
  return order === '' ? [] : order.split(',').map(Number);
}

async function readNumber(testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).textContent());
}

/** The most bars open at once, from the exact order of start and end events. */
function peakFromBars(bars: DrawnBar[]): number {
  const events = bars.flatMap((bar) => [
    { seq: bar.startSeq, delta: 1 },
    ...(bar.endSeq === undefined ? [] : [{ seq: bar.endSeq, delta: -1 }]),
  ]);
  events.sort((a, b) => a.seq - b.seq);
  let open = 0;
  let peak = 0;
  for (const event of events) {
    open += event.delta;
    peak = Math.max(peak, open);
  }
  return peak;
}

describe.skipIf(chromiumPath === undefined)('live timeline page', () => {
  test('completion order, limit 4, 40 tasks: every bar drawn, peak never above 4, delivered in finish order', async () => {
    await configure({ count: 40, limit: 4, minMs: 20, maxMs: 200, failurePercent: 0, mode: 'completed' });
    await page.getByTestId('run').click();
    await waitForStatus('done');

    const bars = await readBars();
    expect(bars).toHaveLength(40);
    expect(new Set(bars.map((bar) => bar.index))).toEqual(new Set(Array.from({ length: 40 }, (_, i) => i)));
    for (const bar of bars) {
      expect(bar.status).toBe('fulfilled');
      expect(bar.end).toBeGreaterThanOrEqual(bar.start);
    }
    const peak = await readNumber('peak');
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBe(peakFromBars(bars));
    expect(peak).toBe(4); // 40 tasks at limit 4 fill every slot
    const finished = await readOrder('finish-order');
    const delivered = await readOrder('delivered-order');
    expect(finished).toHaveLength(40);
    expect(delivered).toEqual(finished);
    expect(await readNumber('started')).toBe(40);

    mkdirSync(artifactsDir, { recursive: true });
    await page.getByTestId('timeline').screenshot({ path: join(artifactsDir, 'timeline.png') });
  });

  test('source order (ordered: true): delivered 0..n-1 whatever the finish order, bound still held', async () => {
    await configure({ count: 30, limit: 5, minMs: 10, maxMs: 150, failurePercent: 0, mode: 'ordered' });
    await page.getByTestId('run').click();
    await waitForStatus('done');

    const bars = await readBars();
    expect(bars).toHaveLength(30);
    expect(peakFromBars(bars)).toBeLessThanOrEqual(5);
    expect(await readNumber('peak')).toBe(peakFromBars(bars));
    expect(await readOrder('delivered-order')).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect([...(await readOrder('finish-order'))].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  test('settled mode with failures: every task delivered as an outcome, failed bars marked rejected', async () => {
    await configure({ count: 30, limit: 3, minMs: 5, maxMs: 60, failurePercent: 40, mode: 'settled' });
    await page.getByTestId('run').click();
    await waitForStatus('done');

    const bars = await readBars();
    expect(bars).toHaveLength(30);
    expect(bars.every((bar) => bar.status === 'fulfilled' || bar.status === 'rejected')).toBe(true);
    expect(peakFromBars(bars)).toBeLessThanOrEqual(3);
    const delivered = await readOrder('delivered-order');
    expect([...delivered].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(delivered.join(' ')).toBe((await readOrder('finish-order')).join(' '));
  });

  test('Stop mid-run: running bars end as aborted and nothing new starts afterwards', async () => {
    await configure({ count: 40, limit: 4, minMs: 300, maxMs: 1500, failurePercent: 0, mode: 'completed' });
    await page.getByTestId('run').click();
    // Stop once the run is under way: a couple of tasks finished, their slots refilled.
    await page.waitForFunction(
      () =>
        (document.querySelector('[data-testid="finish-order"]')?.getAttribute('data-order') ?? '').split(',').length >=
        2,
      undefined,
      {
        timeout: 30_000,
      },
    );
    await page.getByTestId('stop').click();
    await waitForStatus('stopped');

    const atStop = await readBars();
    expect(atStop.length).toBeGreaterThanOrEqual(6);
    expect(atStop.length).toBeLessThan(40);
    expect(atStop.every((bar) => bar.end !== undefined && bar.status !== 'running')).toBe(true);
    expect(atStop.filter((bar) => bar.status === 'aborted').length).toBeGreaterThanOrEqual(1);
    expect(await readNumber('in-flight')).toBe(0);

    // Give a scheduler that ignored the abort every chance to start more (the next tasks would have
    // started within the longest duration), then check nothing did.
    await page.waitForTimeout(1_600);
    const later = await readBars();
    expect(later).toEqual(atStop);
    expect(await readNumber('started')).toBe(atStop.length);
    expect(await page.getByTestId('status').getAttribute('data-status')).toBe('stopped');
    await page.getByTestId('timeline').screenshot({ path: join(artifactsDir, 'timeline-stopped.png') });
  });

  test('the page raised no errors and every request it made succeeded', () => {
    expect(pageErrors).toEqual([]);
  });
});
