import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileTemplates } from '../../infra/templates';
import { runCliCaptured } from '../support/cli';
import { templatesFolder } from '../support/templates';

describe('CLI: postroom templates', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'postroom-cli-templates-'));
  const versions = new Map(compileTemplates().map((source) => [source.id, source.version]));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('lists the templates with their version and variables', async () => {
    const { code, out } = await runCliCaptured(['templates', 'list']);
    expect(code).toBe(0);
    expect(out).toContain(`welcome            ${versions.get('welcome')}  name:string actionUrl:string`);
    expect(out).toContain('expiresInMinutes?:number');
    expect(out).toContain(`form-notification  ${versions.get('form-notification')}  formId:string`);
    expect(out.trim().split('\n')).toHaveLength(6);
  });

  it('renders with a data file into a folder', async () => {
    const data = path.join(work, 'data.json');
    writeFileSync(data, JSON.stringify({ name: 'Grace', actionUrl: 'https://example.com/go' }));
    const out = path.join(work, 'out');

    const result = await runCliCaptured(['templates', 'render', 'welcome', '--data', data, '--out', out]);

    expect(result.code).toBe(0);
    expect(result.out).toContain('Subject: Welcome, Grace');
    expect(readFileSync(path.join(out, 'welcome.html'), 'utf8')).toContain('href="https://example.com/go"');
    expect(readFileSync(path.join(out, 'welcome.txt'), 'utf8')).toContain('Welcome, Grace');
  });

  it('exits 1 with one line per variable at fault, 2 for an unknown template', async () => {
    const data = path.join(work, 'bad.json');
    writeFileSync(data, JSON.stringify({ name: 1, extra: true }));
    const bad = await runCliCaptured(['templates', 'render', 'welcome', '--data', data]);
    const unknown = await runCliCaptured(['templates', 'render', 'welcom']);

    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n')).toEqual([
      'variables.extra is not a variable of this template',
      'variables.name must be a string',
      'variables.actionUrl is required',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('There is no template "welcom"');
  });

  it('exits 1 naming file and line when a template would fail synth', async () => {
    const dir = templatesFolder({
      'hi/template.json': JSON.stringify({ subject: 'Hi', variables: {}, preview: {} }),
      'hi/html.hbs': '<p>Hi</p>\n<p>{{who}}</p>\n',
    });
    try {
      const result = await runCliCaptured(['templates', 'list', '--templates', dir]);
      expect(result.code).toBe(1);
      expect(result.err).toBe(
        'templates/hi/html.hbs:2: {{who}} uses who, which template.json does not declare\n',
      );
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
