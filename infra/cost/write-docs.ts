import { readFileSync, writeFileSync } from 'node:fs';
import { renderCostTables, TABLES_END, TABLES_START } from './tables';

/**
 * `npm run docs:cost`: regenerates the bill tables in docs/cost.md from the cost model (test/unit/cost.test.ts
 * fails when they differ from what the model gives).
 */
const DOC = 'docs/cost.md';
const text = readFileSync(DOC, 'utf8');
const start = text.indexOf(TABLES_START);
const end = text.indexOf(TABLES_END);
if (start < 0 || end < start) {
  process.stderr.write(`${DOC} has no "${TABLES_START}" ... "${TABLES_END}" block\n`);
  process.exit(1);
}
writeFileSync(DOC, text.slice(0, start) + renderCostTables() + text.slice(end + TABLES_END.length));
process.stdout.write(`${DOC}: cost tables regenerated\n`);
