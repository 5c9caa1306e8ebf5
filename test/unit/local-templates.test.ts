import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/errors';
import { renderReference } from '../../functions/core/templates/render-request';
import { LocalTemplates } from '../../local/templates';
import { configWith } from '../fakes/config';
import { templatesFolder } from '../support/templates';

describe('Local: templates compiled again when a file changes', () => {
  const dir = templatesFolder({
    'hi/template.json': JSON.stringify({
      subject: 'Hi {{name}}',
      variables: { name: { type: 'string', required: true } },
      preview: { name: 'Ada' },
    }),
    'hi/html.hbs': '<p>Hello {{name}}</p>\n',
  });
  const folders = [dir];
  afterAll(() => {
    for (const folder of folders) rmSync(path.dirname(folder), { recursive: true, force: true });
  });

  it('renders the edited template on the next load, and the page shows a template that stops compiling', async () => {
    // Prepare
    const local = new LocalTemplates(dir);
    const render = async () => {
      const result = renderReference(await local.catalog.load(), { id: 'hi', variables: { name: 'Bo' } });
      return result.ok ? result.rendered.html : result.errors;
    };
    const first = await render();
    const stamp = local.stampDigest();

    // Act: an edit (the modification time moved on, as an editor's save does)
    const html = path.join(dir, 'hi', 'html.hbs');
    writeFileSync(html, '<p>Welcome back, {{name}}</p>\n');
    utimesSync(html, new Date(), new Date(Date.now() + 5_000));
    const second = await render();
    const changedStamp = local.stampDigest();
    writeFileSync(html, '<p>{{nam}}</p>\n');
    utimesSync(html, new Date(), new Date(Date.now() + 10_000));
    const page = await local.page();

    // Assess
    expect(first).toBe('<p>Hello Bo</p>\n');
    expect(second).toBe('<p>Welcome back, Bo</p>\n');
    expect(changedStamp).not.toBe(stamp);
    expect(page.html).toContain(
      'templates/hi/html.hbs:1: {{nam}} uses nam, which template.json does not declare',
    );
    await expect(local.catalog.load()).rejects.toThrow('templates/hi/html.hbs:1');
  });

  it("checks the forms' templates as synth does, and takes a fix on the next load", async () => {
    // Prepare: a form whose own notification template is not written yet
    const own = templatesFolder({
      'hi/template.json': '{"subject":"Hi","variables":{},"preview":{}}',
      'hi/html.hbs': '<p>Hi</p>\n',
    });
    folders.push(own);
    const local = new LocalTemplates(
      own,
      configWith({
        forms: [{ id: 'quotes', recipients: ['a@example.com'], subject: 'x', template: 'quote' }],
      }),
    );

    // Act
    const before = await local.page();
    await expect(local.catalog.load()).rejects.toThrow(ConfigError);
    mkdirSync(path.join(own, 'quote'));
    writeFileSync(
      path.join(own, 'quote', 'template.json'),
      JSON.stringify({ subject: 'Quote', variables: { message: { type: 'string' } }, preview: {} }),
    );
    writeFileSync(path.join(own, 'quote', 'html.hbs'), '<p>{{message}}</p>\n');

    // Assess
    expect(before.html).toContain(
      'postroom.forms[&quot;quotes&quot;].template: template &quot;quote&quot; is not in templates/',
    );
    expect(Object.keys(await local.catalog.load())).toContain('quote');
  });
});
