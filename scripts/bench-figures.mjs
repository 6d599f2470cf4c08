// Benchmark figures quoted in prose (READMEs, docs pages) are never typed by hand: a marker names the
// cell of a BENCHMARKS.md table it quotes, and the figure is filled in from that table:
//
//   <!-- figure:core|p-limit|peak RSS -->994 MiB<!-- /figure -->
//
// means: in the section between <!-- bench:core:start --> and <!-- bench:core:end -->, the first table
// with a column whose header starts with "peak RSS", the row whose first cell is "p-limit" (Markdown
// emphasis ignored). The docs build replaces each marker with the figure; `pnpm bench` (bench-report's
// writeSection) rewrites the figures inside the markers in the READMEs; a docs test checks they match.
import { readFileSync } from 'node:fs';

export const BENCHMARKS_FILE = new URL('../BENCHMARKS.md', import.meta.url);
/** The files outside the docs site that quote benchmark figures with markers. */
export const FIGURE_FILES = ['packages/core/README.md', 'packages/node-streams/README.md'].map(
  (path) => new URL(`../${path}`, import.meta.url),
);

const FIGURE = /<!-- figure:([^>]*?) -->([\s\S]*?)<!-- \/figure -->/g;
const plain = (cell) => cell.replace(/[*`_]/g, '').trim();

/** The tables of one `bench:NAME` section, as header cells and rows of cells. */
function sectionTables(benchmarks, section) {
  const start = benchmarks.indexOf(`<!-- bench:${section}:start -->`);
  const end = benchmarks.indexOf(`<!-- bench:${section}:end -->`);
  if (start < 0 || end < start) throw new Error(`BENCHMARKS.md has no section "${section}"`);
  const tables = [];
  let current;
  for (const line of benchmarks.slice(start, end).split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line.slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined).split('|');
    if (current === undefined) {
      current = { header: cells.map(plain), rows: [] };
      tables.push(current);
    } else if (!/^\s*:?-+/.test(cells[0] ?? '')) current.rows.push(cells.map((cell) => cell.trim()));
  }
  return tables;
}

/**
 * The cell a figure spec `section|row|column` names, as written in BENCHMARKS.md (Markdown emphasis
 * removed). Throws when the section, the column or the row is missing, so a stale spec fails the build.
 */
export function benchFigure(benchmarks, spec) {
  const [section, row, column] = spec.split('|').map((part) => part.trim());
  if (!section || !row || !column) throw new Error(`A figure spec is "section|row|column", got "${spec}"`);
  for (const { header, rows } of sectionTables(benchmarks, section)) {
    const col = header.findIndex((name) => name.startsWith(column));
    if (col < 0) continue;
    const found = rows.find((cells) => plain(cells[0] ?? '') === row);
    if (found && found[col] !== undefined) return plain(found[col]);
  }
  throw new Error(`BENCHMARKS.md section "${section}" has no table with a column "${column}" and a row "${row}"`);
}

/** Every figure marker in `text`, with the figure it shows now and the one BENCHMARKS.md holds. */
export function figureMarkers(text, benchmarks) {
  return [...text.matchAll(FIGURE)].map((match) => ({
    spec: match[1],
    shown: match[2],
    expected: benchFigure(benchmarks, match[1]),
  }));
}

/** `text` with each marker's figure refreshed from BENCHMARKS.md (markers kept: for READMEs). */
export function refreshFigures(text, benchmarks) {
  return text.replace(FIGURE, (_, spec) => `<!-- figure:${spec} -->${benchFigure(benchmarks, spec)}<!-- /figure -->`);
}

/** `text` with each marker replaced by its figure (for the docs build, where a marker must not show). */
export function renderFigures(text, benchmarks) {
  return text.replace(FIGURE, (_, spec) => benchFigure(benchmarks, spec));
}

export function readBenchmarks() {
  return readFileSync(BENCHMARKS_FILE, 'utf8');
}
