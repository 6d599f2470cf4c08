// The core benchmark as an SVG chart: for each contestant, one bar per limit, its CPU time as a ratio
// to the bare loop (the floor) on a log scale. Written by run.mjs next to BENCHMARKS.md; plain SVG
// with no script or external reference, so GitHub and the docs site show it as an image.

const COLORS = ['#3451b2', '#30a46c', '#e5484d', '#c37d0d'];
const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * @param {{ title: string, limits: number[], rows: { name: string, ratios: number[], highlight?: boolean }[] }} chart
 *   `ratios[i]` is the contestant's ratio to the floor at `limits[i]`.
 * @returns {string} the SVG document
 */
export function ratioChart({ title, limits, rows }) {
  const labelWidth = 230;
  const plotWidth = 600;
  const barHeight = 7;
  const groupGap = 9;
  const top = 54;
  const groupHeight = limits.length * barHeight + groupGap;
  const height = top + rows.length * groupHeight + 36;
  const width = labelWidth + plotWidth + 70;
  const max = Math.max(2, ...rows.flatMap((row) => row.ratios.filter(Number.isFinite)));
  const decades = Math.ceil(Math.log10(max));
  const x = (ratio) => labelWidth + (plotWidth * Math.log10(Math.max(1, ratio))) / decades;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="600">${escape(title)}</text>`,
  ];
  limits.forEach((limit, i) => {
    const lx = labelWidth + i * 110;
    parts.push(
      `<rect x="${lx}" y="30" width="12" height="8" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 16}" y="38">limit ${limit}</text>`,
    );
  });
  for (let decade = 0; decade <= decades; decade++) {
    for (const step of decade < decades ? [1, 2, 5] : [1]) {
      const ratio = step * 10 ** decade;
      const gx = x(ratio);
      parts.push(
        `<line x1="${gx}" x2="${gx}" y1="${top - 6}" y2="${height - 30}" stroke="${step === 1 ? '#c2c2c4' : '#e2e2e3'}"/>`,
        `<text x="${gx}" y="${height - 16}" text-anchor="middle" fill="#67676c">${ratio}x</text>`,
      );
    }
  }
  rows.forEach((row, r) => {
    const gy = top + r * groupHeight;
    parts.push(
      `<text x="${labelWidth - 8}" y="${gy + (limits.length * barHeight) / 2 + 4}" text-anchor="end"${row.highlight ? ' font-weight="700"' : ''}>${escape(row.name)}</text>`,
    );
    row.ratios.forEach((ratio, i) => {
      if (!Number.isFinite(ratio)) return;
      const by = gy + i * barHeight;
      parts.push(
        `<rect x="${labelWidth}" y="${by}" width="${Math.max(1, x(ratio) - labelWidth).toFixed(1)}" height="${barHeight - 1}" fill="${COLORS[i % COLORS.length]}"><title>${escape(`${row.name}, limit ${limits[i]}: ${ratio.toFixed(2)}x`)}</title></rect>`,
        `<text x="${(x(ratio) + 4).toFixed(1)}" y="${by + barHeight - 1}" font-size="9" fill="#67676c">${ratio.toFixed(ratio < 10 ? 2 : 0)}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
