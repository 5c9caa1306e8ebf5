import path from 'node:path';
import { type BuildOptions, type BuildResult, buildSync } from 'esbuild';
import { REPO_ROOT } from './paths';

/** A folder under `functions/` whose `index.ts` exports `handler`. */
export type FunctionEntry = 'send' | 'relay' | 'events';

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
export function functionBuildOptions(entry: FunctionEntry, outdir: string): BuildOptions {
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
    // Stack traces point into functions/*.ts (NODE_OPTIONS=--enable-source-maps), not the minified code.
    // Node reads a module's map when it loads it; mappings alone are a third of the size and are all a
    // stack trace needs (the sources are in the repository).
    sourcemap: true,
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

/** Builds a function into `outdir` (synchronously: CDK's local bundling hook is synchronous). */
export function bundleFunction(entry: FunctionEntry, outdir: string): BuildResult<{ metafile: true }> {
  return buildSync({ ...functionBuildOptions(entry, outdir), metafile: true });
}
