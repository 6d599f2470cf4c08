import { describe, expect, it } from 'vitest';
import { limitedAsCompleted } from '@lac/core';

describe('limitedAsCompleted smoke', () => {
  it('yields every result of a small sync source', async () => {
    const tasks = [1, 2, 3].map((n) => () => Promise.resolve(n * 2));
    const out: number[] = [];
    for await (const value of limitedAsCompleted(tasks, 2)) out.push(value);
    expect(out.sort()).toEqual([2, 4, 6]);
  });
});
