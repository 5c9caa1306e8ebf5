/** One part of `npm run bench`: a titled table of figures, each a ratio or against a baseline from the same run. */
export type BenchSection = {
  title: string;
  rows: Array<{ metric: string; value: number; unit: string; target?: string; pass?: boolean }>;
  notes?: string[];
};

/** The nearest-rank percentile of an ascending list. */
export function percentile(sorted: ReadonlyArray<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
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
