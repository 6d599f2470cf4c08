import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ENV, findChromium, findProgram, missingProgram } from '@lac/test-tools';

const root = mkdtempSync(join(tmpdir(), 'lac-test-tools-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function binDir(name: string, programs: Record<string, boolean>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [program, isExecutable] of Object.entries(programs)) {
    writeFileSync(join(dir, program), '#!/bin/sh\n');
    chmodSync(join(dir, program), isExecutable ? 0o755 : 0o644);
  }
  return dir;
}

describe('findProgram', () => {
  it('finds the first executable among the names, searching PATH in order', () => {
    const first = binDir('first', { 'redis-server': false, other: true });
    const second = binDir('second', { 'redis-server': true });
    const path = [first, second].join(delimiter);
    expect(findProgram(['redis-server'], { path })).toBe(join(second, 'redis-server'));
    expect(findProgram(['missing', 'other'], { path })).toBe(join(first, 'other'));
  });

  it('returns undefined when no directory of PATH holds it', () => {
    expect(findProgram(['redis-server'], { path: binDir('empty', {}) })).toBeUndefined();
    expect(findProgram(['redis-server'], { path: '' })).toBeUndefined();
  });
});

describe('findChromium', () => {
  it(`prefers ${CHROMIUM_ENV}, even when it points nowhere, so a wrong path fails instead of skipping`, () => {
    const path = binDir('browsers', { chromium: true });
    expect(findChromium({ env: { [CHROMIUM_ENV]: '/opt/chrome/chrome', PATH: path } })).toBe('/opt/chrome/chrome');
    expect(findChromium({ env: { PATH: path } })).toBe(join(path, 'chromium'));
    expect(findChromium({ env: { PATH: binDir('none', {}) } })).toBeUndefined();
  });
});

describe('missingProgram', () => {
  it('names the program and how to get it', () => {
    const message = missingProgram('redis-server', 'Debian: apt-get install redis-server');
    expect(message).toContain('redis-server');
    expect(message).toContain('apt-get install redis-server');
    expect(message).toContain('skipped');
  });
});
