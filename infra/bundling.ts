import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, type BuildResult, buildSync } from 'esbuild';
import { CONFIG_FILE, TEMPLATES_FILE } from '../functions/adapters/function-env';
import type { PostroomConfig } from '../functions/core/config/config';
import { REPO_ROOT } from './paths';
import { checkFormTemplates, compileTemplates, TEMPLATES_DIR, templatesModule } from './templates';

/** A folder under `functions/` whose `index.ts` exports `handler`. */
export type FunctionEntry = 'send' | 'relay' | 'events' | 'webhooks';

/** The file Lambda loads: `index.mjs`, so the handler is `index.handler`. */
export const HANDLER = 'index.handler';

/**
 * How a function is built for Lambda: one place for `cdk synth` (MailFunction) and the cold-start bench, so
 * the bench measures the deployed artifact.
 *
 * - ESM with code splitting: what a cold start rarely needs (the S3 client for large attachments, Secrets
 *   Manager, multipart parsing) is loaded by `import()` from its own chunk, so it is neither read nor
 *   compiled until used.
 * - The AWS SDK is bundled from the lockfile rather than taken from the runtime, so Lambda runs the
 *   versions the tests ran against.
 * - The SDK's default credential chain is replaced by the environment provider, the one link that
 *   answers on Lambda (functions/adapters/lambda-credentials.ts). Only here: the local stack and the
 *   tests keep the full chain.
 */
export function functionBuildOptions(
  entry: FunctionEntry,
  outdir: string,
  { sourceMaps = false }: { sourceMaps?: boolean } = {},
): BuildOptions {
  return {
    entryPoints: { index: path.join(REPO_ROOT, 'functions', entry, 'index.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    // No source maps in the deployed asset, and no --enable-source-maps: with the flag Node reads and parses
    // each module's map as it loads it, which measured 10 to 17 ms of a cold start (about a tenth of the
    // import). A map only serves a stack trace, and the functions log error names, never stacks (a stack
    // would show up only for a crash the runtime reports). Such a stack is decoded by building the same
    // commit with `sourceMaps: true`: the code is the same, line and column, but for the sourceMappingURL
    // comments and the chunk names' hashes.
    sourcemap: sourceMaps,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    alias: {
      '@aws-sdk/credential-provider-node': path.join(
        REPO_ROOT,
        'functions',
        'adapters',
        'lambda-credentials.ts',
      ),
    },
    // CommonJS dependencies bundled into ESM still call require(); give them one.
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: 'warning',
    absWorkingDir: REPO_ROOT,
  };
}

/**
 * Builds a function into `outdir` (synchronously: CDK's local bundling hook is synchronous), with the
 * configuration it runs with as `config.json` beside `index.mjs` (and, for the send function, the compiled
 * templates as `templates.mjs`). `config` must be the output of
 * `parseConfig`: the function trusts it without validating it again (functions/adapters/function-env.ts).
 */
export function bundleFunction(
  entry: FunctionEntry,
  outdir: string,
  config: PostroomConfig,
  options: { sourceMaps?: boolean; templatesDir?: string } = {},
): BuildResult<{ metafile: true }> {
  // Templates first: one that does not compile fails synth, naming its file and line, before any build.
  // Then the forms' templates: each must exist and declare only what a form provides.
  let templates: string | undefined;
  if (entry === 'send') {
    const sources = compileTemplates(options.templatesDir ?? TEMPLATES_DIR);
    checkFormTemplates(config, sources);
    templates = templatesModule(sources);
  }
  const result = buildSync({ ...functionBuildOptions(entry, outdir, options), metafile: true });
  writeFileSync(path.join(outdir, CONFIG_FILE), JSON.stringify(config));
  // Beside config.json, as a module of precompiled Handlebars specifications the function imports on the
  // first request that names a template (functions/adapters/function-env.ts shippedTemplates).
  if (templates !== undefined) writeFileSync(path.join(outdir, TEMPLATES_FILE), templates);
  return result;
}
