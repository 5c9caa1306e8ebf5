import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { BenchSection } from './section';

/**
 * `npm run bench [-- section...]`: runs the named sections (all by default) one after another, prints one
 * table and writes bench/results/bench.json. Every figure is a ratio or is set against a baseline measured
 * in the same run, so a loaded machine shifts both sides alike.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

type SectionModule = { run(): Promise<BenchSection> };

/** Each section by name, loaded only when it runs. */
const SECTIONS: Record<string, () => Promise<SectionModule>> = {
  'cold-start': () => import('./cold-start'),
  handler: () => import('./handler'),
  pipeline: () => import('./pipeline'),
  pacing: () => import('./pacing'),
  baseline: () => import('./baseline'),
  webhooks: () => import('./webhooks'),
  cost: () => import('./cost'),
};

async function main() {
  const asked = process.argv.slice(2).filter((arg) => arg !== '--');
  const unknown = asked.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown section ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}\n`,
    );
    process.exit(2);
  }
  const names = asked.length > 0 ? asked : Object.keys(SECTIONS);
  const sections: Array<BenchSection & { name: string }> = [];
  for (const name of names) {
    const load = SECTIONS[name];
    if (load === undefined) continue;
    process.stderr.write(`running ${name}...\n`);
    const result = await (await load()).run();
    sections.push({ name, ...result });
  }
  print(sections);
  mkdirSync('bench/results', { recursive: true });
  const machine = { cpus: cpus().length, node: process.version, at: new Date().toISOString() };
  writeFileSync('bench/results/bench.json', `${JSON.stringify({ machine, sections }, null, 2)}\n`);
  process.stdout.write('\nWritten to bench/results/bench.json\n');
  if (sections.some((s) => s.rows.some((row) => row.pass === false))) process.exitCode = 1;
}

function print(sections: ReadonlyArray<BenchSection>) {
  const rows = sections.flatMap((s) => s.rows);
  const metricWidth = Math.max(6, ...rows.map((r) => r.metric.length));
  const valueWidth = Math.max(5, ...rows.map((r) => `${r.value} ${r.unit}`.length));
  const targetWidth = Math.max(6, ...rows.map((r) => (r.target ?? '').length));
  const out = process.stdout;
  out.write(`\nPostroom bench (${cpus().length} cores, Node ${process.version})\n`);
  for (const section of sections) {
    out.write(`\n${section.title}\n`);
    out.write(
      `  ${'metric'.padEnd(metricWidth)}  ${'value'.padStart(valueWidth)}  ${'target'.padEnd(targetWidth)}  result\n`,
    );
    for (const row of section.rows) {
      const verdict = row.pass === undefined ? '' : row.pass ? 'pass' : 'FAIL';
      out.write(
        `  ${row.metric.padEnd(metricWidth)}  ${`${row.value} ${row.unit}`.padStart(valueWidth)}  ${(row.target ?? '').padEnd(targetWidth)}  ${verdict}\n`,
      );
    }
    for (const note of section.notes ?? []) out.write(`  - ${note}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
