import { readFileSync } from 'node:fs';
import type { PostroomConfig } from '../core/config/config';
import { ConfigError } from '../core/errors';

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
