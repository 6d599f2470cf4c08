// Types for bench-figures.mjs (read by the docs' TypeScript config and tests).
export const BENCHMARKS_FILE: URL;
export const FIGURE_FILES: URL[];
export function benchFigure(benchmarks: string, spec: string): string;
export function figureMarkers(text: string, benchmarks: string): { spec: string; shown: string; expected: string }[];
export function refreshFigures(text: string, benchmarks: string): string;
export function renderFigures(text: string, benchmarks: string): string;
export function readBenchmarks(): string;
