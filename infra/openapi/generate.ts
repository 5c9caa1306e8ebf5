import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../paths';
import { openApiText } from './document';

/**
 * `npm run openapi`: writes openapi.json from the schemas (document.ts). `--check` writes nothing and exits 1
 * when the committed file differs, as the drift test does.
 */
export const OPENAPI_FILE = path.join(REPO_ROOT, 'openapi.json');

const text = openApiText();
if (process.argv.includes('--check')) {
  const committed = readFileSync(OPENAPI_FILE, 'utf8');
  if (committed !== text) {
    process.stderr.write('openapi.json differs from what the schemas generate: run npm run openapi\n');
    process.exit(1);
  }
} else {
  writeFileSync(OPENAPI_FILE, text);
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), OPENAPI_FILE)} (${Buffer.byteLength(text)} bytes)\n`,
  );
}
