import { fileURLToPath } from 'node:url';

/**
 * The repository root, found from this file rather than the working directory, so `cdk synth`, Vitest and
 * an IDE all bundle the same entry points.
 */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
