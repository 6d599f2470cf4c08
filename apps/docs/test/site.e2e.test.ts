// Every built page in real headless Chromium, the way a reader sees it: nothing scrolls sideways,
// no Markdown is left unrendered, every page has its own title and description, the search finds
// every exported function and class, and the home page's live timeline runs, stops and shows its peak.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromiumPath, launchChromium } from './browser.js';
import { exportedCallables } from './exports.js';
import { distDir, serveSite, siteRelative, walk } from './site.js';

/** Every page of the built site, as URL paths (/guide/core.html). */
const pages = walk(distDir)
  .filter((path) => path.endsWith('.html') && !path.endsWith('404.html'))
  .map((path) => `/${siteRelative(path)}`)
  .sort();

const siteDescription = /description:\s*'([^']+)'/.exec(
  readFileSync(join(distDir, '..', 'site', '.vitepress', 'config.ts'), 'utf8'),
)?.[1];

let browser: Browser;
let site: Awaited<ReturnType<typeof serveSite>>;

beforeAll(async () => {
  site = await serveSite();
  if (chromiumPath !== undefined) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

/** What sticks out sideways in the content area: scroll containers that scroll, and boxes past the viewport's edge. */
function findOverflow(): string[] {
  const describe = (element: Element): string => {
    const text = (element.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 60);
    return `<${element.tagName.toLowerCase()} class="${element.getAttribute('class') ?? ''}"> "${text}"`;
  };
  const found: string[] = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    found.push(`the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px window`);
  const content = document.querySelector('.VPContent');
  if (!content) return ['no .VPContent on the page'];
  for (const element of Array.from(content.querySelectorAll('*'))) {
    const style = getComputedStyle(element);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if ((style.overflowX === 'auto' || style.overflowX === 'scroll') && element.scrollWidth > element.clientWidth + 1) {
      found.push(
        `${describe(element)} scrolls sideways (${element.scrollWidth} px of content in ${element.clientWidth} px)`,
      );
    }
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > root.clientWidth + 1 && !element.closest('[data-overflow-ok]')) {
      // Only report the outermost box that sticks out, not each of its children.
      const parent = element.parentElement?.getBoundingClientRect();
      if (!parent || parent.right <= root.clientWidth + 1)
        found.push(`${describe(element)} ends at ${Math.round(box.right)} px`);
    }
  }
  return found;
}

/** Text a reader sees that still looks like Markdown source: backticks, `**`, `[text](url)`, raw tags, misread `>=`. */
function findUnrenderedMarkdown(): string[] {
  const found: string[] = [];
  const content = document.querySelector('.VPContent');
  if (!content) return ['no .VPContent on the page'];
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('code, pre, script, style, textarea, [data-literal-ok]')) continue;
    const text = node.textContent ?? '';
    const match = /`|\*\*|\]\([^)\s]+\)|<\/?(code|strong|em|a|p|br|div|span|sup|table)\b[^>]*>/.exec(text);
    if (match) found.push(`"${match[0]}" in "${text.trim().slice(0, 80)}"`);
  }
  for (const quote of Array.from(content.querySelectorAll('blockquote'))) {
    // A line of prose that begins with `>=` (or `> `) becomes a blockquote: that is a wrapping accident.
    const text = (quote.textContent ?? '').trim();
    if (/^[=<>]/.test(text)) found.push(`a blockquote that is a misread comparison: "${text.slice(0, 60)}"`);
  }
  return found;
}

async function open(page: Page, path: string): Promise<void> {
  const response = await page.goto(`${site.url}${path}`, { waitUntil: 'load' });
  expect(response?.status(), path).toBe(200);
  await page.waitForSelector('.VPContent');
}

interface PageReport {
  overflow: string[];
  markdown: string[];
  title: string;
  description: string;
}

/** What each page shows at each width; each page is loaded once per width (loading is the slow part). */
const reports = new Map<number, Map<string, PageReport>>();

describe.skipIf(chromiumPath === undefined)('every page in Chromium', () => {
  beforeAll(async () => {
    for (const width of [1280, 390]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      const byPage = new Map<string, PageReport>();
      for (const path of pages) {
        await open(page, path);
        byPage.set(path, {
          overflow: await page.evaluate(findOverflow),
          markdown: width === 1280 ? await page.evaluate(findUnrenderedMarkdown) : [],
          title: await page.title(),
          description: (await page.locator('meta[name="description"]').getAttribute('content')) ?? '',
        });
      }
      await page.close();
      reports.set(width, byPage);
    }
  }, 900_000);

  test('the site has pages to check', () => {
    expect(pages).toContain('/index.html');
    expect(pages).toContain('/guide/core.html');
    expect(pages.filter((path) => path.startsWith('/api/')).length).toBeGreaterThan(10);
    expect([...reports.get(1280)!.keys()]).toEqual(pages);
  });

  for (const width of [1280, 390]) {
    test(`no page scrolls sideways at ${width} px: no code block, table or box wider than the content area`, () => {
      const problems = [...reports.get(width)!].flatMap(([path, report]) =>
        report.overflow.map((problem) => `${path}: ${problem}`),
      );
      expect(problems).toEqual([]);
    });
  }

  test('no page shows literal backticks or other unrendered Markdown in its text', () => {
    const problems = [...reports.get(1280)!].flatMap(([path, report]) =>
      report.markdown.map((problem) => `${path}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  test('the checks themselves flag a scrolling code block, a literal backtick and a misread ">="', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 900 } });
    await page.setContent(`<div class="VPContent"><div style="width:200px;overflow-x:auto"><pre style="width:900px">x</pre></div>
      <p>a <code>fine</code> and a \`bad\` one</p><blockquote><p>= 1 or Infinity</p></blockquote></div>`);
    const overflow = await page.evaluate(findOverflow);
    expect(overflow.some((problem) => problem.includes('scrolls sideways'))).toBe(true);
    const markdown = await page.evaluate(findUnrenderedMarkdown);
    expect(markdown).toHaveLength(2);
    expect(markdown[0]).toContain('"`"');
    expect(markdown[1]).toContain('misread comparison');
    await page.close();
  });

  test('every page has a title of its own and a description of its own', () => {
    expect(siteDescription).toBeDefined();
    const seen = new Map<string, string>();
    const problems: string[] = [];
    for (const [path, { title, description }] of reports.get(1280)!) {
      if (!/^\S.{2,} \| @lac$/.test(title) && path !== '/index.html') problems.push(`${path}: title "${title}"`);
      if (seen.has(title)) problems.push(`${path}: the same title as ${seen.get(title)} ("${title}")`);
      seen.set(title, path);
      if (description.length < 30) problems.push(`${path}: description "${description}" is too short`);
      if (path !== '/index.html' && description === siteDescription)
        problems.push(`${path}: only the site's description`);
    }
    expect(problems).toEqual([]);
  });

  test('the search finds every exported function and class of every package by its name', async () => {
    const callables = exportedCallables();
    expect(callables.length).toBeGreaterThan(10);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await open(page, '/getting-started.html');
    const missing: string[] = [];
    for (const { dir, name, kind } of callables) {
      await page.locator('.VPNavBar button.DocSearch').click();
      const input = page.locator('#localsearch-input');
      await input.waitFor({ state: 'visible' });
      await input.fill(name);
      const target = `/api/${dir}/${kind === 'class' ? 'classes' : 'functions'}/${name}`;
      const hit = page.locator(`.VPLocalSearchBox .results a[href*="${target}"]`);
      try {
        await hit.first().waitFor({ state: 'attached', timeout: 5_000 });
      } catch {
        missing.push(`${name} (${target})`);
      }
      await page.keyboard.press('Escape');
      await input.waitFor({ state: 'hidden' });
    }
    await page.close();
    expect(missing).toEqual([]);
  });
});

describe.skipIf(chromiumPath === undefined)('the live timeline in the home page hero', () => {
  test('it runs, shows the peak in flight, and Stop ends the run with nothing running', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await open(page, '/index.html');
    const hero = page.locator('.VPHero [data-testid="timeline"]');
    await hero.getByTestId('run').waitFor({ state: 'visible' });
    await hero.getByTestId('run').click();
    // The peak readout reaches the limit the hero shows, and never passes it.
    const limit = Number(await hero.getByTestId('limit').textContent());
    expect(limit).toBeGreaterThan(1);
    await page.waitForFunction(
      (max) =>
        Number(document.querySelector('.VPHero [data-testid="timeline"] [data-testid="peak"]')?.textContent) === max,
      limit,
      { timeout: 30_000 },
    );
    await hero.getByTestId('stop').click();
    await page.waitForFunction(
      () => document.querySelector('.VPHero [data-testid="status"]')?.getAttribute('data-status') === 'stopped',
      undefined,
      { timeout: 30_000 },
    );
    expect(Number(await hero.getByTestId('peak').textContent())).toBe(limit);
    expect(Number(await hero.getByTestId('in-flight').textContent())).toBe(0);
    const bars = await hero
      .getByTestId('bar')
      .evaluateAll((elements) => elements.map((element) => element.getAttribute('data-status')));
    expect(bars.length).toBeGreaterThanOrEqual(limit);
    expect(bars).not.toContain('running');
    expect(bars).toContain('aborted');
    await page.close();
  });
});
