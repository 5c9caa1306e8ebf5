import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledTemplates } from '../../functions/core/templates/catalog';
import { checkVariables } from '../../functions/core/templates/declaration';
import { renderTemplate } from '../../functions/core/templates/render';
import { renderReference } from '../../functions/core/templates/render-request';
import { bundleFunction } from '../../infra/bundling';
import { compileTemplates, loadTemplates, TemplateCompileError } from '../../infra/templates';
import { shippedConfig } from '../fakes/config';
import { shippedTemplates, templatesFolder } from '../support/templates';

const SHIPPED = ['form-autoresponse', 'form-notification', 'password-reset', 'receipt', 'welcome'];

describe('Templates: the shipped templates', () => {
  let templates: CompiledTemplates;
  const previews = new Map(compileTemplates().map((source) => [source.id, source.declaration.preview]));

  beforeAll(async () => {
    templates = await shippedTemplates();
  });

  it('ships welcome, password-reset, receipt and the two form templates, each versioned by a hash of its compiled form', () => {
    expect(Object.keys(templates).sort()).toEqual(SHIPPED);
    for (const template of Object.values(templates)) expect(template.version).toMatch(/^[0-9a-f]{7}$/);
  });

  for (const id of SHIPPED) {
    it(`renders ${id} with its preview data as recorded, under 100 KB, with inlined CSS and a text part`, () => {
      // Prepare
      const template = templates[id];
      if (template === undefined) throw new Error(`${id} is missing`);
      const checked = checkVariables(template.variables, previews.get(id));
      if (!checked.ok) throw new Error(JSON.stringify(checked.errors));

      // Act
      const rendered = renderTemplate(template, checked.values);

      // Assess
      expect({ subject: rendered.subject, html: rendered.html, text: rendered.text }).toMatchSnapshot();
      // Gmail clips a message whose HTML passes 102 KB.
      expect(Buffer.byteLength(rendered.html)).toBeLessThan(100_000);
      // Layout tables with the styles inlined, for clients that drop <style>; the dark-mode query kept.
      expect(rendered.html).toMatch(/<td class="content" style="[^"]*font-family/);
      expect(rendered.html).toContain('prefers-color-scheme: dark');
      expect(rendered.html).toContain('<meta name="color-scheme" content="light dark">');
      expect(rendered.text.length).toBeGreaterThan(50);
      expect(rendered.text).not.toMatch(/<[a-z/!]/i);
      expect(rendered.text).not.toContain('{{');
    });
  }

  it('fills defaults and answers one error per variable at fault, named as the client sent it', () => {
    // Act
    const missing = renderReference(templates, { id: 'password-reset', variables: {} });
    const wrong = renderReference(templates, {
      id: 'password-reset',
      variables: { name: 7, resetUrl: 'https://example.com/r', expiresInMinutes: '30', colour: 'red' },
    });
    const unknown = renderReference(templates, { id: 'nope', variables: {} });
    const defaulted = renderReference(templates, {
      id: 'password-reset',
      variables: { name: 'Ada', resetUrl: 'https://example.com/r' },
    });

    // Assess
    expect(missing).toEqual({
      ok: false,
      errors: [
        { field: 'template.variables.name', detail: 'is required' },
        { field: 'template.variables.resetUrl', detail: 'is required' },
      ],
    });
    expect(wrong.ok ? [] : wrong.errors.map((error) => error.field).sort()).toEqual([
      'template.variables.colour',
      'template.variables.expiresInMinutes',
      'template.variables.name',
    ]);
    expect(unknown.ok ? undefined : unknown.errors[0]?.field).toBe('template.id');
    expect(defaulted.ok && defaulted.rendered.text).toContain('works for 30 minutes');
  });

  it('checks the fields of list items', () => {
    const result = renderReference(templates, {
      id: 'receipt',
      variables: { name: 'Ada', total: '€1', items: [{ description: 'x', quantity: 'two', amount: '€1' }] },
    });
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'template.variables.items', detail: "each item's quantity must be a number" }],
    });
  });
});

describe('Templates: synth refuses a template, naming file and line', () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const folder of folders) rmSync(path.dirname(folder), { recursive: true, force: true });
  });

  const declaration = (variables: object, preview: object, extra: object = {}) =>
    JSON.stringify({ subject: 'Hello {{name}}', variables, preview, ...extra }, null, 2);
  const NAME = { name: { type: 'string', required: true } };

  function compileError(files: Record<string, string>): string {
    const dir = templatesFolder(files);
    folders.push(dir);
    try {
      compileTemplates(dir);
    } catch (error) {
      if (error instanceof TemplateCompileError) return error.message;
      throw error;
    }
    throw new Error('compiled');
  }

  it("fails the send function's build, which cdk synth runs, before bundling anything", () => {
    const dir = templatesFolder({
      'hello/template.json': declaration(NAME, { name: 'Ada' }),
      'hello/html.hbs': '<p>{{nme}}</p>\n',
    });
    folders.push(dir);
    const outdir = path.join(path.dirname(dir), 'send');
    expect(() => bundleFunction('send', outdir, shippedConfig(), { templatesDir: dir })).toThrow(
      'templates/hello/html.hbs:1: {{nme}} uses nme, which template.json does not declare',
    );
  });

  it('that uses a variable it does not declare', () => {
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 'Ada' }),
        'hello/html.hbs': '<p>Hello {{name}}</p>\n<p>\n  {{surname}}\n</p>\n',
      }),
    ).toBe('templates/hello/html.hbs:3: {{surname}} uses surname, which template.json does not declare');
  });

  it('that does not compile', () => {
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 'Ada' }),
        'hello/html.hbs': '<p>Hello</p>\n{{#if name}}\n<p>{{name}}</p>\n',
      }),
    ).toMatch(/^templates\/hello\/html\.hbs:\d+: does not compile: Parse error/);
  });

  it("whose body inside a layout uses an undeclared variable (the line is the body file's)", () => {
    expect(
      compileError({
        '_layouts/plain.hbs': '<html>\n<body>\n{{> content}}\n</body>\n</html>\n',
        'hello/template.json': declaration(NAME, { name: 'Ada' }, { layout: 'plain' }),
        'hello/html.hbs': '<p>{{name}}</p>\n<p>{{company}}</p>\n',
      }),
    ).toBe('templates/hello/html.hbs:2: {{company}} uses company, which template.json does not declare');
  });

  it('that calls a helper, or a partial', () => {
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 'Ada' }),
        'hello/html.hbs': '<p>{{lookup name 0}}</p>\n',
      }),
    ).toMatch(/^templates\/hello\/html\.hbs:1: \{\{lookup \.\.\.\}\}: only variables/);
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 'Ada' }),
        'hello/text.hbs': 'Hi\n{{> footer}}\n',
        'hello/html.hbs': '<p>{{name}}</p>\n',
      }),
    ).toBe(
      'templates/hello/text.hbs:2: PartialStatement is not allowed (no partials, decorators or subexpressions)',
    );
  });

  it('that writes a value unescaped (triple-stash or {{& }})', () => {
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 'Ada' }),
        'hello/html.hbs': '<p>Hello</p>\n<p>{{{name}}}</p>\n',
      }),
    ).toBe('templates/hello/html.hbs:2: {{{name}}}: unescaped output is not allowed, write {{name}}');
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 'Ada' }),
        'hello/html.hbs': '<p>{{& name}}</p>\n',
      }),
    ).toBe('templates/hello/html.hbs:1: {{{name}}}: unescaped output is not allowed, write {{name}}');
  });

  it('whose preview data does not satisfy its declaration', () => {
    expect(
      compileError({
        'hello/template.json': declaration(NAME, { name: 42 }),
        'hello/html.hbs': '<p>{{name}}</p>\n',
      }),
    ).toBe('templates/hello/template.json:9: preview.name must be a string');
  });

  it('whose subject uses an undeclared variable, or whose declaration is malformed', () => {
    expect(
      compileError({
        'hello/template.json': JSON.stringify({ subject: 'Hi {{who}}', variables: {}, preview: {} }),
        'hello/html.hbs': '<p>Hi</p>\n',
      }),
    ).toBe('templates/hello/template.json:1: {{who}} uses who, which template.json does not declare');
    expect(
      compileError({
        'hello/template.json':
          '{\n  "subject": "Hi",\n  "variables": { "n": { "type": "date" } },\n  "preview": {}\n}\n',
        'hello/html.hbs': '<p>Hi</p>\n',
      }),
    ).toMatch(/^templates\/hello\/template\.json:3: variables\.n /);
  });
});

describe('Templates: MJML (html.mjml), compiled at synth only', () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const folder of folders) rmSync(path.dirname(folder), { recursive: true, force: true });
  });
  const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'templates-mjml');
  // Each MJML compile starts Node and loads mjml: about 1 s alone, several on a loaded machine.
  const MJML_TIMEOUT = 60_000;
  const declaration = JSON.stringify(
    {
      subject: 'Hi {{name}}',
      variables: { name: { type: 'string', required: true } },
      preview: { name: 'Ada' },
    },
    null,
    2,
  );

  function compileError(files: Record<string, string>): string {
    const dir = templatesFolder(files);
    folders.push(dir);
    try {
      compileTemplates(dir);
    } catch (error) {
      if (error instanceof TemplateCompileError) return error.message;
      throw error;
    }
    throw new Error('compiled');
  }

  it(
    'compiles html.mjml to table HTML, then renders it as Handlebars: escaped values, lists, a derived text part',
    async () => {
      // Prepare
      const [source] = compileTemplates(FIXTURE);
      if (source === undefined) throw new Error('the fixture has no template');
      const templates = await loadTemplates([source]);

      // Act
      const rendered = renderReference(templates, {
        id: 'mjml-welcome',
        variables: { name: 'Ada <b>', actionUrl: 'https://example.com/go?a=1', steps: ['One & two'] },
      });

      // Assess
      if (!rendered.ok) throw new Error(JSON.stringify(rendered.errors));
      const { html, text, subject } = rendered.rendered;
      expect(subject).toBe('Welcome, Ada <b>');
      // MJML's output: Outlook conditional comments and role="presentation" tables, its attributes inlined.
      expect(html).toContain('<!--[if mso | IE]>');
      expect(html).toMatch(/<table[^>]*role="presentation"/);
      expect(html).toContain('Welcome, Ada &lt;b&gt;</div>');
      expect(html).toContain('<li>One &amp; two</li>');
      expect(html).toContain('href="https://example.com/go?a&#x3D;1"');
      // <mj-style inline="inline"> inlined by MJML itself.
      expect(html).toContain('<p class="lead" style="font-weight: 600;">');
      expect(text).toContain(' * One & two');
      // No markup of the template's in the text part (the name brought its own <b>, as written).
      expect(text.replace('Ada <b>', '')).not.toMatch(/<[a-z/!]/i);
    },
    MJML_TIMEOUT,
  );

  it(
    'fails synth naming html.mjml and the line of an MJML error',
    () => {
      expect(
        compileError({
          'hello/template.json': declaration,
          'hello/html.mjml':
            '<mjml>\n  <mj-body>\n    <mj-section>\n      <mj-colum><mj-text>Hi</mj-text></mj-colum>\n    </mj-section>\n  </mj-body>\n</mjml>\n',
        }),
      ).toMatch(
        /^templates\/hello\/html\.mjml:4: does not compile: Element mj-colum doesn't exist or is not registered/,
      );
    },
    MJML_TIMEOUT,
  );

  it(
    'fails synth naming html.mjml and the line of a name the declaration lacks',
    () => {
      expect(
        compileError({
          'hello/template.json': declaration,
          'hello/html.mjml':
            '<mjml>\n  <mj-body>\n    <mj-section>\n      <mj-column>\n        <mj-text>Hi {{name}}</mj-text>\n        <mj-text>{{surname}}</mj-text>\n      </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n',
        }),
      ).toBe('templates/hello/html.mjml:6: {{surname}} uses surname, which template.json does not declare');
    },
    MJML_TIMEOUT,
  );

  it('refuses html.mjml beside html.hbs, and a layout for an MJML template', () => {
    expect(
      compileError({
        'hello/template.json': declaration,
        'hello/html.mjml': '<mjml/>',
        'hello/html.hbs': '<p/>',
      }),
    ).toBe('templates/hello/html.mjml:1: a template has html.hbs or html.mjml, not both');
    expect(
      compileError({
        'hello/template.json': JSON.stringify({ ...JSON.parse(declaration), layout: 'default' }, null, 2),
        'hello/html.mjml': '<mjml/>',
      }),
    ).toMatch(/^templates\/hello\/template\.json:\d+: layout does not apply to an MJML template/);
  });
});
