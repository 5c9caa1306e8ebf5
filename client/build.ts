import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';

/**
 * Builds `client/index.mjs` from `client/index.ts`: esbuild strips the types (the client's imports from the
 * core are types only, so nothing else comes in) and leaves plain ESM that Node runs as it is. The built file is
 * committed: `postroom/client` works from a plain `node` script with no build step at install (npm's install
 * scripts do not run here) and no TypeScript loader. `npm run build:client` writes it;
 * test/unit/client-build.test.ts fails when it differs from what this builds.
 */
const CLIENT_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT_SOURCE = path.join(CLIENT_DIR, 'index.ts');
export const CLIENT_BUILD = path.join(CLIENT_DIR, 'index.mjs');

export function buildClient(): string {
  const result = buildSync({
    entryPoints: [CLIENT_SOURCE],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    legalComments: 'none',
    banner: {
      js: '// Built from client/index.ts by `npm run build:client`: edit the source, not this file.',
    },
    logLevel: 'warning',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no output for the client');
  // Paths in esbuild's region comments depend on where the repository is; the built file must not.
  return output.text.replaceAll(/^\/\/ .*client\/index\.ts\n/gm, '');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(CLIENT_BUILD, buildClient());
  console.log(`Wrote ${path.relative(process.cwd(), CLIENT_BUILD)}`);
}
