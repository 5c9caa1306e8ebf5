import { readFileSync } from 'node:fs';
import type { PostroomConfig } from '../core/config/config';
import { ConfigError } from '../core/errors';
import type { CompiledTemplates, TemplateCatalog } from '../core/templates/catalog';

/**
 * The configuration a function runs with: `config.json` in its code package, beside `index.mjs`, written by
 * the build (infra/bundling.ts) from the configuration `cdk synth` has just validated. The function trusts
 * it and does not validate it again: the schema and its parse cost about 16 ms of every cold start, and
 * Lambda's code package cannot change after the build, unlike an environment variable. Being a file, it is
 * also free of Lambda's 4 KB limit on a function's environment.
 */
export const CONFIG_FILE = 'config.json';

/** Reads a required environment variable, failing the cold start with its name if it is missing. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError([{ field: `env.${name}`, message: 'is required' }]);
  return value;
}

/** Reads the configuration the build put beside the entry module (its `import.meta.url`). */
export function readShippedConfig(entryUrl: string): PostroomConfig {
  let json: string;
  try {
    json = readFileSync(new URL(CONFIG_FILE, entryUrl), 'utf8');
  } catch {
    throw new ConfigError([
      { field: CONFIG_FILE, message: 'is missing from the code package: build it with infra/bundling.ts' },
    ]);
  }
  try {
    return JSON.parse(json) as PostroomConfig;
  } catch {
    throw new ConfigError([{ field: CONFIG_FILE, message: 'is not valid JSON' }]);
  }
}

/**
 * The templates compiled at synth, `templates.mjs` beside the entry module (infra/bundling.ts), imported on
 * the first request that names a template and kept: requests without a template never read it.
 */
export function shippedTemplates(entryUrl: string): TemplateCatalog {
  let loading: Promise<CompiledTemplates> | undefined;
  return {
    load() {
      loading ??= import(new URL(TEMPLATES_FILE, entryUrl).href).then(
        (module: { templates: CompiledTemplates }) => module.templates,
        (error: unknown) => {
          loading = undefined;
          throw error;
        },
      );
      return loading;
    },
  };
}

/** The compiled templates' module in a function's code package. */
export const TEMPLATES_FILE = 'templates.mjs';
