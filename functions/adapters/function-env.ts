import { type PostroomConfig, parseConfig } from '../core/config';
import { ConfigError } from '../core/errors';

/** Reads a required environment variable, failing the cold start with its name if it is missing. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError([{ field: `env.${name}`, message: 'is required' }]);
  return value;
}

/** The `postroom` configuration, passed to a function as JSON in POSTROOM_CONFIG and validated at cold start. */
export function configFromEnv(env: NodeJS.ProcessEnv): PostroomConfig {
  const json = requireEnv(env, 'POSTROOM_CONFIG');
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError([{ field: 'env.POSTROOM_CONFIG', message: 'is not valid JSON' }]);
  }
  return parseConfig(raw);
}
