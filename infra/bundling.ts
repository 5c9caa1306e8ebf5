import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type BuildOptions, type BuildResult, buildSync, type Metafile } from 'esbuild';
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
  const result = buildInOneColdStartChunk(functionBuildOptions(entry, outdir, options));
  writeFileSync(path.join(outdir, CONFIG_FILE), JSON.stringify(config));
  // Beside config.json, as a module of precompiled Handlebars specifications the function imports on the
  // first request that names a template (functions/adapters/function-env.ts shippedTemplates).
  if (templates !== undefined) writeFileSync(path.join(outdir, TEMPLATES_FILE), templates);
  return result;
}

/**
 * Builds with code splitting so that what a cold start reads is the entry file and few chunks, not one chunk
 * per set of lazily loaded modules sharing it.
 *
 * esbuild puts each module in the chunk of the entry points that reach it, and every `import()` target is an
 * entry point (https://esbuild.github.io/api/#splitting): a module the entry and some lazy modules share goes
 * to a chunk of its own for each such set. With this round's lazy features (Resend routes, archive, Akismet,
 * form mail) the send function's cold start read 21 files instead of 11, and each module Node resolves, reads,
 * compiles and links cost about 2 ms of CPU time: its import went from about 1.2 to 1.46 times the SDK
 * clients' own (bench/cold-start.ts).
 *
 * So each project module loaded by `import()` (and not by the cold start) also imports, for esbuild only,
 * every project module the entry imports. Those have run before any `import()` can (the entry's own code,
 * which awaits at top level, is not among them), so at run time the added imports load and evaluate nothing;
 * but now every module of the cold start is reached by all lazy modules alike and lands in one chunk. What
 * loads lazily stays in its own chunks, loaded as before.
 *
 * esbuild runs plugins only in its asynchronous API and CDK's local bundling is synchronous: the second build
 * runs in a worker thread this one waits for.
 */
function buildInOneColdStartChunk(options: BuildOptions): BuildResult<{ metafile: true }> {
  const absWorkingDir = options.absWorkingDir ?? REPO_ROOT;
  const { metafile } = buildSync({ ...options, write: false, metafile: true, logLevel: 'silent' });
  const project = (input: string) => !input.includes('node_modules/') && /\.[cm]?ts$/.test(input);
  // The cold start's modules are those of the output files the entry file loads by static import; the
  // inputs' import lists are no guide, as they keep the imports of types that TypeScript erases.
  const outputs = metafile.outputs;
  const entryFiles = Object.keys(outputs).filter((file) => outputs[file]?.entryPoint !== undefined);
  const entryInputs = Object.values(options.entryPoints as Record<string, string>).map((file) =>
    path.relative(absWorkingDir, file),
  );
  const coldFiles = new Set(
    entryFiles.filter((file) => entryInputs.includes(outputs[file]?.entryPoint ?? '')),
  );
  for (const file of coldFiles)
    for (const imported of outputs[file]?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) coldFiles.add(imported.path);
  const coldStart = new Set([...coldFiles].flatMap((file) => Object.keys(outputs[file]?.inputs ?? {})));
  const entryImports = entryInputs
    .flatMap((input) => metafile.inputs[input]?.imports ?? [])
    .filter(
      (imported) =>
        !imported.external &&
        imported.kind === 'import-statement' &&
        project(imported.path) &&
        coldStart.has(imported.path),
    )
    .map((imported) => path.join(absWorkingDir, imported.path));
  // A dependency's ES module loaded by `import()` (the Secrets Manager client, the SDK's own event-stream
  // and browser user-agent modules) shares cold-start modules too: it gets the same imports. CommonJS ones
  // (busboy) do not: an import statement would turn them into ES modules.
  const esmDependency = (input: string) =>
    input.includes('node_modules/') && metafile.inputs[input]?.format === 'esm';
  const lazy = Object.values(metafile.inputs)
    .flatMap((input) => input.imports)
    .filter(
      (imported) =>
        !imported.external &&
        imported.kind === 'dynamic-import' &&
        (project(imported.path) || esmDependency(imported.path)) &&
        !coldStart.has(imported.path),
    )
    .map((imported) => path.join(absWorkingDir, imported.path));
  if (lazy.length === 0) return buildSync({ ...options, metafile: true });

  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(BUILD_WORKER, {
    eval: true,
    workerData: {
      esbuild: createRequire(import.meta.url).resolve('esbuild'),
      options,
      lazy: [...new Set(lazy)],
      entryImports,
      done,
      port: port2,
    },
    transferList: [port2],
  });
  try {
    // A build takes seconds; a worker that never answers fails the build rather than hanging synth.
    if (Atomics.wait(done, 0, 0, 300_000) === 'timed-out')
      throw new Error('the bundling worker did not answer in 5 minutes');
    const reply = receiveMessageOnPort(port1)?.message as
      | { metafile: Metafile; warnings: BuildResult['warnings'] }
      | { error: string }
      | undefined;
    if (reply === undefined) throw new Error('the bundling worker ended without an answer');
    if ('error' in reply) throw new Error(reply.error);
    return {
      errors: [],
      warnings: reply.warnings,
      metafile: reply.metafile,
      outputFiles: undefined,
      mangleCache: undefined,
    };
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/** The worker of buildInOneColdStartChunk: the build with a plugin adding the imports, answered on `port`. */
const BUILD_WORKER = `
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { workerData } = require('node:worker_threads');
const { esbuild, options, lazy, entryImports, done, port } = workerData;
const targets = new Set(lazy);
const addImports = {
  name: 'postroom-one-cold-start-chunk',
  setup(build) {
    build.onLoad({ filter: /\\.[cm]?[jt]s$/ }, (args) => {
      if (!targets.has(args.path)) return undefined;
      const added = entryImports.map((file) => 'import ' + JSON.stringify(file) + ';').join('\\n');
      const loader = /\\.[cm]?ts$/.test(args.path) ? 'ts' : 'js';
      return { contents: readFileSync(args.path, 'utf8') + '\\n' + added + '\\n', loader, resolveDir: path.dirname(args.path) };
    });
  },
};
(async () => {
  try {
    const result = await require(esbuild).build({ ...options, metafile: true, plugins: [addImports] });
    port.postMessage({ metafile: result.metafile, warnings: result.warnings });
  } catch (error) {
    port.postMessage({ error: String(error && error.message ? error.message : error) });
  } finally {
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  }
})();
`;
