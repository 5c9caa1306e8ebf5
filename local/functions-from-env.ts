import { rmSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../functions/core/errors';
import type { Log } from '../functions/core/ports';
import { REPO_ROOT } from '../infra/paths';
import type { BundledFunctionsOptions } from './bundled-functions';
import { resolveLambdaNode } from './lambda-node';

/** `npm start` runs the functions from their sources unless this says `bundles`. */
export const FUNCTIONS_ENV = 'POSTROOM_FUNCTIONS';

/**
 * The local stack's `functions` option from POSTROOM_FUNCTIONS: `sources` (the default) or `bundles`, which
 * synthesizes `rawConfig` (the context the stack's configuration was parsed from) into a git-ignored folder (about 5 s) and runs the bundles on Node 22
 * (local/lambda-node.ts), or on this Node with a warning when none can be had.
 */
export async function functionsFromEnv(
  rawConfig: unknown,
  env: NodeJS.ProcessEnv,
  log: Log,
): Promise<'sources' | BundledFunctionsOptions> {
  const kind = env[FUNCTIONS_ENV] ?? 'sources';
  if (kind === 'sources') return 'sources';
  if (kind !== 'bundles') {
    throw new ConfigError([{ field: `env.${FUNCTIONS_ENV}`, message: 'must be "sources" or "bundles"' }]);
  }
  const node = await resolveLambdaNode({ env });
  if (node.source === 'current') {
    log.warn("the bundles run on this Node, not on Lambda's", {
      node: node.version,
      reason: node.fallbackReason,
    });
  }
  // aws-cdk-lib is loaded only when the bundles are asked for.
  const { synthesizeFunctions } = await import('./synth-functions');
  const cdkOut = path.join(REPO_ROOT, 'node_modules', '.cache', 'postroom', 'local-cdk.out');
  rmSync(cdkOut, { recursive: true, force: true });
  return { cdkOut: synthesizeFunctions(rawConfig, cdkOut), node: node.path };
}
