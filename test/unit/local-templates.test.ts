import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReference } from '../../functions/core/templates/render-request';
import { LocalTemplates } from '../../local/templates';
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
  afterAll(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

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
});
