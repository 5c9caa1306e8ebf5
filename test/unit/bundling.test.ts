import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { bundleFunction } from '../../infra/bundling';
import { REPO_ROOT } from '../../infra/paths';
import { readPostroomContext } from '../../local/config-file';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';

const workDir = mkdtempSync(path.join(tmpdir(), 'postroom-bundling-'));
const config = parseConfig(readPostroomContext(FIXTURE_CONFIG_FILE));

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** Each code file's text without its sourceMappingURL comment, with chunk hashes taken out of names. */
function code(dir: string): string[] {
  return files(dir)
    .filter((file) => file.endsWith('.mjs'))
    .map((file) =>
      readFileSync(path.join(dir, file), 'utf8')
        .replace(/^\/\/# sourceMappingURL=\S+\n/m, '')
        .replace(/-[A-Z0-9]{8}\.mjs/g, '-HASH.mjs'),
    )
    .sort();
}

describe('Infra: function bundles', () => {
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('ships no source maps, and builds them on request for the same code', () => {
    // Act
    bundleFunction('send', path.join(workDir, 'deployed'), config);
    bundleFunction('send', path.join(workDir, 'mapped'), config, { sourceMaps: true });

    // Assess
    expect(files(path.join(workDir, 'deployed')).filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(
      files(path.join(workDir, 'mapped')).filter((file) => file.endsWith('.map')).length,
    ).toBeGreaterThan(0);
    expect(code(path.join(workDir, 'mapped'))).toEqual(code(path.join(workDir, 'deployed')));
  }, 60_000);

  it('leaves out the schemas the send function never runs: the MailJob schema and the config schema', () => {
    const outdir = path.join(workDir, 'send');
    const { metafile } = bundleFunction('send', outdir, config);
    const bundled = Object.keys(metafile.outputs)
      .filter((file) => file.endsWith('.mjs'))
      // Metafile paths are relative to the repository root.
      .map((file) => readFileSync(path.join(REPO_ROOT, file), 'utf8'))
      .join('\n');
    expect(bundled).toContain('postroom-job-id');
    expect(bundled).not.toContain('names an attachment of another job');
    // The configuration was validated at synth and is built in, as parsed.
    expect(bundled).not.toContain('must be an origin such as');
    expect(JSON.parse(readFileSync(path.join(outdir, 'config.json'), 'utf8'))).toEqual(config);
  }, 60_000);

  it("loads the relay's SES client and MIME composer with its first mail, and its SQS client with its first retry", () => {
    const { metafile } = bundleFunction('relay', path.join(workDir, 'relay'), config);
    const outputs = Object.entries(metafile.outputs).filter(([file]) => file.endsWith('.mjs'));
    // What the entry loads by static import, transitively: the code of a cold start.
    const coldStart = new Set(outputs.filter(([file]) => file.endsWith('/index.mjs')).map(([file]) => file));
    for (const file of coldStart)
      for (const imported of metafile.outputs[file]?.imports ?? [])
        if (imported.kind === 'import-statement' && !imported.external) coldStart.add(imported.path);
    const inputsOf = (files: string[]) =>
      files.flatMap((file) => Object.keys(metafile.outputs[file]?.inputs ?? {})).join('\n');
    const loadedAtColdStart = inputsOf([...coldStart]);
    const loadedLater = inputsOf(outputs.map(([file]) => file).filter((file) => !coldStart.has(file)));

    for (const lazy of [
      'node_modules/@aws-sdk/client-sesv2/',
      'node_modules/nodemailer/',
      'node_modules/@aws-sdk/client-sqs/',
    ]) {
      expect(loadedAtColdStart).not.toContain(lazy);
      expect(loadedLater).toContain(lazy);
    }
    // Every mail's claim and status: the table's client is needed at once.
    expect(loadedAtColdStart).toContain('node_modules/@aws-sdk/client-dynamodb/');
  }, 60_000);
});
