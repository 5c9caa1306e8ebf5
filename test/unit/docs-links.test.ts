import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokenLinks, headingAnchors, linksIn } from '../support/doc-links';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const workDir = mkdtempSync(path.join(tmpdir(), 'postroom-doc-links-'));

/** A small docs tree: `files` maps a relative path to its Markdown. */
function docsTree(files: Readonly<Record<string, string>>): string {
  const root = mkdtempSync(path.join(workDir, 'tree-'));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

describe('Docs: links between the README and docs/', () => {
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('gives each heading the anchor GitHub gives it', () => {
    // Prepare
    const markdown = [
      '# Postroom',
      '## `POST /v1/forms/{formId}`: a contact-form submission',
      '## 12. What it costs',
      '### Reference (fields)',
      '## Not built yet',
      '```sh',
      '# a comment in a code block, not a heading',
      '```',
      '## Not built yet',
    ].join('\n');

    // Act
    const anchors = headingAnchors(markdown);

    // Assess
    expect([...anchors]).toEqual([
      'postroom',
      'post-v1formsformid-a-contact-form-submission',
      '12-what-it-costs',
      'reference-fields',
      'not-built-yet',
      'not-built-yet-1',
    ]);
  });

  it('reads inline and reference links, and none inside code blocks or inline code', () => {
    // Prepare
    const markdown = [
      'See [the API](docs/api.md#api-keys) and [deploy][d], or `[not](a-link.md)`.',
      '```md',
      '[also not](in-a-fence.md)',
      '```',
      '[d]: docs/deploy.md',
    ].join('\n');

    // Act
    const targets = linksIn(markdown, 'README.md').map(({ line, target }) => [line, target]);

    // Assess
    expect(targets).toEqual([
      [1, 'docs/api.md#api-keys'],
      [5, 'docs/deploy.md'],
    ]);
  });

  it('reports a link to a missing file and one to a missing heading, and passes the rest', () => {
    // Prepare
    const root = docsTree({
      'README.md': [
        '[api](docs/api.md) [keys](docs/api.md#api-keys) [gone](docs/gone.md)',
        '[typo](docs/api.md#api-key) [here](#readme) [site](https://example.com/x.md#y)',
        '# Readme',
      ].join('\n'),
      'docs/api.md': '# The API\n\n## API keys\n\nBack to the [README](../README.md#readme).\n',
    });

    // Act
    const broken = brokenLinks(root, ['README.md', 'docs/api.md']);

    // Assess
    expect(broken).toEqual([
      { file: 'README.md', line: 1, target: 'docs/gone.md', problem: 'no file docs/gone.md' },
      {
        file: 'README.md',
        line: 2,
        target: 'docs/api.md#api-key',
        problem: 'no heading with anchor #api-key in docs/api.md',
      },
    ]);
  });

  it('finds every relative link in README.md and docs/*.md leading to a file and heading that exist', () => {
    // Prepare
    const docs = readdirSync(path.join(repoRoot, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);

    // Act
    const broken = brokenLinks(repoRoot, ['README.md', ...docs]);

    // Assess
    expect(broken).toEqual([]);
  });
});
