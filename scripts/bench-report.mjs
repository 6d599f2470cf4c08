// Writes one package's benchmark section into the root BENCHMARKS.md, between
// <!-- bench:NAME:start --> and <!-- bench:NAME:end -->, leaving the other sections alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, totalmem } from 'node:os';
import { FIGURE_FILES, refreshFigures } from './bench-figures.mjs';

const file = new URL('../BENCHMARKS.md', import.meta.url);

/** Markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A line saying where and when the numbers were taken. */
export function machineLine() {
  return `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model?.trim() ?? arch()}, ${Math.round(totalmem() / 2 ** 30)} GiB.`;
}

export function writeSection(name, markdown) {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nEvery table here is written by a benchmark script; the command that produced it stands above it. Times drift on this shared machine, so results are ratios measured side by side in one process.\n';
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const at = text.indexOf(start);
  const stop = text.indexOf(end);
  text =
    at >= 0 && stop > at
      ? text.slice(0, at) + block + text.slice(stop + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  // The READMEs quote some figures (bench-figures.mjs markers): they follow the tables just written.
  for (const readme of FIGURE_FILES) {
    if (existsSync(readme)) writeFileSync(readme, refreshFigures(readFileSync(readme, 'utf8'), text));
  }
}
