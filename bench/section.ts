/** One measured figure: its value, unit, and the target it is held to when there is one. */
export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  /** The target as people read it, such as `≤ 1.8x` or `≥ 20,000`. */
  target?: string;
  pass?: boolean;
}

/** What each bench module's `run()` returns: a titled table of rows, with notes on how it was measured. */
export interface BenchSection {
  title: string;
  rows: BenchRow[];
  notes?: string[];
}

/** Prints a section as an aligned table, for a bench module run on its own. */
export function printSection(section: BenchSection): void {
  const cells = section.rows.map((row) => [
    row.metric,
    `${formatNumber(row.value)} ${row.unit}`,
    row.target ?? '',
    row.pass === undefined ? '' : row.pass ? 'pass' : 'FAIL',
  ]);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...cells.map((cell) => cell[column]?.length ?? 0)));
  process.stdout.write(`\n${section.title}\n`);
  for (const cell of cells)
    process.stdout.write(`  ${cell.map((text, column) => text.padEnd(widths[column] ?? 0)).join('  ')}\n`);
  for (const note of section.notes ?? []) process.stdout.write(`  - ${note}\n`);
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 3 : 1 });
}

/** The value at percentile `p` (0-100) of ascending `sorted`, nearest rank. */
export function percentile(sorted: ReadonlyArray<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

export function median(values: ReadonlyArray<number>): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
