import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, readShippedConfig } from '../../functions/adapters/function-env';
import { parseConfig } from '../../functions/core/config/config';
import { ConfigError } from '../../functions/core/errors';
import { readPostroomContext } from '../../local/config-file';
import { defaultConfig, fullConfig, smtpConfig } from '../infra/stack-fixture';

const workDir = mkdtempSync(path.join(tmpdir(), 'postroom-shipped-config-'));

/** A code package holding `config.json` with `text`; returns its entry's URL, as `import.meta.url` gives it. */
function packageWith(name: string, text: string | undefined): string {
  const packageDir = mkdtempSync(path.join(workDir, `${name}-`));
  if (text !== undefined) writeFileSync(path.join(packageDir, CONFIG_FILE), text);
  return pathToFileURL(path.join(packageDir, 'index.mjs')).href;
}

function configProblem(read: () => unknown): ConfigError['problems'] {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('Adapter: the configuration built into a function', () => {
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it.each([
    // A cdk.json of the tests' own (users edit the project's), in the shipped format.
    [
      'a cdk.json fixture',
      readPostroomContext(path.join(import.meta.dirname, '../fixtures/postroom.cdk.json')),
    ],
    ['the defaults', defaultConfig],
    ['every optional feature', fullConfig],
    ['an SMTP relay', smtpConfig],
  ])('reads back %s exactly as synth validated it', (_name, raw) => {
    // Prepare: what bundleFunction writes
    const validated = parseConfig(raw);
    const entryUrl = packageWith('valid', JSON.stringify(validated));

    // Act
    const shipped = readShippedConfig(entryUrl);

    // Assess
    expect(shipped).toEqual(validated);
  });

  it('fails the cold start naming config.json when the package has none', () => {
    expect(configProblem(() => readShippedConfig(packageWith('missing', undefined)))).toEqual([
      { field: 'config.json', message: expect.stringContaining('is missing from the code package') },
    ]);
  });

  it('fails the cold start naming config.json when it is not JSON', () => {
    expect(configProblem(() => readShippedConfig(packageWith('broken', '{"region":')))).toEqual([
      { field: 'config.json', message: 'is not valid JSON' },
    ]);
  });
});
