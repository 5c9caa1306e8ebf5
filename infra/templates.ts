import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Handlebars from 'handlebars';
import { convert } from 'html-to-text';
import juice from 'juice';
import type { PostroomConfig } from '../functions/core/config/config';
import { ConfigError } from '../functions/core/errors';
import { formTemplateProblems } from '../functions/core/forms/form-templates';
import type { CompiledTemplate, CompiledTemplates } from '../functions/core/templates/catalog';
import { checkVariables } from '../functions/core/templates/declaration';
import {
  TEMPLATE_ID,
  type TemplateDeclaration,
  templateDeclarationSchema,
  type VariableDeclaration,
} from '../functions/core/templates/declaration-schema';
import { renderTemplate } from '../functions/core/templates/render';
import { REPO_ROOT } from './paths';

/**
 * The template compiler, run at synth (and by the local stack and the CLI): it reads `templates/`, checks
 * each template against its declaration, inlines its CSS (juice), derives its text part when it has no
 * text.hbs (html-to-text), and precompiles subject, HTML and text with Handlebars in strict mode with only
 * the built-in helpers. Handlebars' compiler, juice and html-to-text stay here: function code imports only
 * the runtime (functions/core/templates/render.ts).
 */

export const TEMPLATES_DIR = path.join(REPO_ROOT, 'templates');
/** The module the build writes beside a function's `index.mjs`. */
export const TEMPLATES_MODULE = 'templates.mjs';
const LAYOUTS = '_layouts';
/** Where a layout puts the template's HTML. */
const CONTENT_MARKER = '{{> content}}';

/** Handlebars options for every template: a missing name throws, and no helper but the built-in ones. */
const COMPILE = { strict: true, knownHelpersOnly: true } as const;

/** A template that cannot ship, with the file and line to fix. */
export class TemplateCompileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'TemplateCompileError';
  }
}

/** One compiled template as source: the specifications as JavaScript, ready to write into a module. */
export interface TemplateSource {
  readonly id: string;
  readonly version: string;
  readonly declaration: TemplateDeclaration;
  readonly specs: { readonly subject: string; readonly html: string; readonly text: string };
}

/** Compiles every template under `dir` (folders but `_layouts`), throwing at the first one at fault. */
export function compileTemplates(dir: string = TEMPLATES_DIR): TemplateSource[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('_') && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort()
    .map((id) => compileTemplate(dir, id));
}

export function compileTemplate(dir: string, id: string): TemplateSource {
  const folder = path.join(dir, id);
  const shown = (file: string) => path.relative(path.dirname(dir), path.join(folder, file));
  const declarationFile = shown('template.json');
  if (!TEMPLATE_ID.test(id)) {
    throw new TemplateCompileError(shown(''), 1, 'a template id is 1 to 63 of a-z 0-9 - (the folder name)');
  }
  const { declaration, text: declarationText } = readDeclaration(
    path.join(folder, 'template.json'),
    declarationFile,
  );

  const htmlFile = path.join(folder, 'html.hbs');
  const mjmlFile = path.join(folder, 'html.mjml');
  const isMjml = existsSync(mjmlFile);
  if (isMjml && existsSync(htmlFile)) {
    throw new TemplateCompileError(shown('html.mjml'), 1, 'a template has html.hbs or html.mjml, not both');
  }
  if (!isMjml && !existsSync(htmlFile)) throw new TemplateCompileError(shown('html.hbs'), 1, 'is missing');
  const htmlShown = shown(isMjml ? 'html.mjml' : 'html.hbs');
  if (isMjml && declaration.layout !== undefined) {
    throw new TemplateCompileError(
      declarationFile,
      lineAt(declarationText, Math.max(declarationText.indexOf('"layout"'), 0)),
      'layout does not apply to an MJML template: html.mjml is the whole document',
    );
  }
  const merged = isMjml
    ? fromMjml(mjmlFile, htmlShown)
    : withLayout(dir, declaration.layout, readFileSync(htmlFile, 'utf8'), htmlShown, declarationFile);

  const subject = checkedSpec(declaration.subject, declaration, () => ({ file: declarationFile, line: 1 }), {
    noEscape: true,
  });
  checkedSpec(merged.source, declaration, merged.locate, {});
  // CSS inlined at synth: Gmail and Outlook drop or ignore <style> in many cases. Mustaches are left alone
  // (juice's default code blocks include Handlebars' {{ }}); media queries stay in <style> for the clients
  // that read them (dark mode). MJML's output is left as MJML made it: it inlines its own attributes and
  // <mj-style inline="inline">, and its <style> blocks (Outlook resets, responsive columns) must stay.
  const inlined = isMjml
    ? merged.source
    : juice(merged.source, { removeStyleTags: true, preserveMediaQueries: true });
  // Juice moves lines about: an error found only after inlining is reported at the file's first line.
  const afterInlining: Locate = isMjml ? merged.locate : () => ({ file: htmlShown, line: 1 });
  const html = checkedSpec(inlined, declaration, afterInlining, {});

  const textFile = path.join(folder, 'text.hbs');
  const text = existsSync(textFile)
    ? checkedSpec(
        readFileSync(textFile, 'utf8'),
        declaration,
        (line) => ({ file: shown('text.hbs'), line }),
        {
          noEscape: true,
        },
      )
    : checkedSpec(derivedText(inlined), declaration, () => ({ file: htmlShown, line: 1 }), {
        noEscape: true,
        derived: true,
      });

  const specs = { subject, html, text };
  const version = createHash('sha256')
    .update(JSON.stringify({ variables: declaration.variables, specs }))
    .digest('hex')
    .slice(0, 7);
  const source: TemplateSource = { id, version, declaration, specs };
  checkPreview(source, declarationFile, declarationText);
  return source;
}

/**
 * Every form's notification and autoresponse template must exist and declare only what the form path
 * provides (functions/core/forms/form-templates.ts): checked at synth, so a form never meets a template it
 * cannot render. Throws a ConfigError naming the field and the template.
 */
export function checkFormTemplates(
  config: Pick<PostroomConfig, 'forms'>,
  sources: ReadonlyArray<TemplateSource>,
): void {
  const declarations = Object.fromEntries(sources.map((source) => [source.id, source.declaration.variables]));
  const problems = formTemplateProblems(config, declarations);
  if (problems.length > 0) {
    throw new ConfigError(problems.map((problem) => ({ field: problem.field, message: problem.message })));
  }
}

/** `export const templates = {...}`: the module shipped in the send function's code package. */
export function templatesModule(sources: ReadonlyArray<TemplateSource>): string {
  const entries = sources.map(
    (source) =>
      `${JSON.stringify(source.id)}:{id:${JSON.stringify(source.id)},version:${JSON.stringify(source.version)},` +
      `variables:${JSON.stringify(source.declaration.variables)},subject:${source.specs.subject},` +
      `html:${source.specs.html},text:${source.specs.text}}`,
  );
  return `export const templates = {${entries.join(',')}};\n`;
}

/** Loads compiled templates in this process (the local stack, the CLI, tests), as the function loads them. */
export async function loadTemplates(sources: ReadonlyArray<TemplateSource>): Promise<CompiledTemplates> {
  const url = `data:text/javascript;base64,${Buffer.from(templatesModule(sources)).toString('base64')}`;
  const module = (await import(url)) as { templates: CompiledTemplates };
  return module.templates;
}

/** The same, synchronously: the specifications evaluated in this process (tests and benches). */
export function evaluateTemplates(sources: ReadonlyArray<TemplateSource>): CompiledTemplates {
  return Object.fromEntries(
    sources.map((source) => [
      source.id,
      {
        id: source.id,
        version: source.version,
        variables: source.declaration.variables,
        subject: evaluate(source.specs.subject),
        html: evaluate(source.specs.html),
        text: evaluate(source.specs.text),
      },
    ]),
  );
}

function readDeclaration(file: string, shown: string): { declaration: TemplateDeclaration; text: string } {
  if (!existsSync(file)) throw new TemplateCompileError(shown, 1, 'is missing');
  const text = readFileSync(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(String(error))?.[1];
    throw new TemplateCompileError(shown, lineAt(text, Number(position ?? 0)), 'is not valid JSON');
  }
  const parsed = templateDeclarationSchema.safeParse(json);
  if (parsed.success) return { declaration: parsed.data, text };
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') || '(file)';
  const key = issue?.path.at(-1);
  const at = key === undefined ? 0 : text.indexOf(JSON.stringify(String(key)));
  throw new TemplateCompileError(
    shown,
    lineAt(text, Math.max(at, 0)),
    `${field} ${issue?.message ?? 'is invalid'}`,
  );
}

type Locate = (line: number) => { file: string; line: number };

/**
 * MJML (https://documentation.mjml.io) compiled to HTML at synth, then treated as the Handlebars source.
 * mjml2html is asynchronous and synth is not (CDK's local bundling hook is synchronous), so it runs in a
 * child Node process; the mjml package never reaches a function. `validationLevel: 'strict'` makes an
 * unknown tag or attribute an error, reported with the line of html.mjml. An error the Handlebars checks
 * find in the output is traced back to html.mjml by the mustache it names.
 */
const MJML_SCRIPT = `
const { default: mjml2html } = await import(process.env.MJML_URL);
let input = '';
for await (const chunk of process.stdin) input += chunk;
try {
  const result = await mjml2html(input, { validationLevel: 'strict', filePath: process.env.MJML_FILE });
  process.stdout.write(JSON.stringify({ html: result.html }));
} catch (error) {
  const errors = Array.isArray(error?.errors) && error.errors.length > 0
    ? error.errors.map((e) => ({ line: e.line, message: e.message }))
    : [{ line: 1, message: String(error?.message ?? error) }];
  process.stdout.write(JSON.stringify({ errors }));
}
`;

function fromMjml(file: string, shown: string): { source: string; locate: Locate } {
  const text = readFileSync(file, 'utf8');
  let mjmlUrl: string;
  try {
    // Resolved from the project, whose dev dependency it is, wherever the templates folder lives.
    mjmlUrl = pathToFileURL(createRequire(path.join(REPO_ROOT, 'package.json')).resolve('mjml')).href;
  } catch {
    throw new TemplateCompileError(shown, 1, 'needs the mjml package: npm install --save-dev mjml');
  }
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', MJML_SCRIPT], {
    input: text,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, MJML_URL: mjmlUrl, MJML_FILE: file },
  });
  let result: { html?: string; errors?: Array<{ line?: number; message: string }> };
  try {
    result = JSON.parse(child.stdout) as typeof result;
  } catch {
    throw new TemplateCompileError(shown, 1, `MJML did not run: ${child.stderr.trim().split('\n').at(-1)}`);
  }
  const first = result.errors?.[0];
  if (first !== undefined || result.html === undefined) {
    throw new TemplateCompileError(
      shown,
      first?.line ?? 1,
      `does not compile: ${first?.message ?? 'no output'}`,
    );
  }
  const html = result.html;
  const outputLines = html.split('\n');
  const sourceLines = text.split('\n');
  return {
    source: html,
    locate: (line) => {
      const mustache = /\{\{[^}]*\}\}/.exec(outputLines[line - 1] ?? '')?.[0];
      const at = mustache === undefined ? -1 : sourceLines.findIndex((each) => each.includes(mustache));
      return { file: shown, line: at < 0 ? 1 : at + 1 };
    },
  };
}

/** The HTML inside its layout, with a way back from a line of the whole to the file and line it came from. */
function withLayout(
  dir: string,
  layout: string | undefined,
  body: string,
  bodyFile: string,
  declarationFile: string,
): { source: string; locate: Locate } {
  if (layout === undefined) return { source: body, locate: (line) => ({ file: bodyFile, line }) };
  const layoutPath = path.join(dir, LAYOUTS, `${layout}.hbs`);
  const layoutFile = path.relative(path.dirname(dir), layoutPath);
  if (!existsSync(layoutPath)) {
    throw new TemplateCompileError(declarationFile, 1, `layout ${layout}: ${layoutFile} does not exist`);
  }
  const text = readFileSync(layoutPath, 'utf8');
  const at = text.indexOf(CONTENT_MARKER);
  if (at < 0) throw new TemplateCompileError(layoutFile, 1, `has no ${CONTENT_MARKER} where the HTML goes`);
  const startLine = lineAt(text, at);
  const bodyLines = body.split('\n').length;
  return {
    source: text.slice(0, at) + body + text.slice(at + CONTENT_MARKER.length),
    locate: (line) => {
      if (line < startLine) return { file: layoutFile, line };
      if (line < startLine + bodyLines) return { file: bodyFile, line: line - startLine + 1 };
      return { file: layoutFile, line: line - bodyLines + 1 };
    },
  };
}

/**
 * Parses, checks the names used against the declaration, and precompiles; returns the specification as
 * JavaScript source. Errors name the file and line (through `locate`).
 */
function checkedSpec(
  source: string,
  declaration: TemplateDeclaration,
  locate: Locate,
  options: { noEscape?: boolean; derived?: boolean },
): string {
  const fail = (line: number, reason: string): never => {
    const at = locate(line);
    const derived = options.derived ? ' (in the text part derived from the HTML: add a text.hbs)' : '';
    throw new TemplateCompileError(at.file, at.line, reason + derived);
  };
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(source);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const line = Number(
      /on line (\d+)/.exec(message)?.[1] ?? (error as { lineNumber?: number }).lineNumber ?? 1,
    );
    return fail(line, `does not compile: ${message.split('\n')[0]}`);
  }
  checkNames(program, [{ kind: 'root', variables: declaration.variables }], fail);
  try {
    return String(Handlebars.precompile(source, { ...COMPILE, noEscape: options.noEscape === true }));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(
      (error as { lineNumber?: number }).lineNumber ?? 1,
      `does not compile: ${message.split('\n')[0]}`,
    );
  }
}

type Scope =
  | { kind: 'root'; variables: TemplateDeclaration['variables'] }
  | { kind: 'item'; list: string; items: Extract<VariableDeclaration, { type: 'list' }>['items'] };

type Fail = (line: number, reason: string) => never;

/**
 * Every name a template uses must be declared: a variable at the top, a field of the item inside
 * `{{#each list}}`. Only `if`, `unless` and `each` blocks; no partials, no other helper: what renders is
 * what the declaration says.
 */
function checkNames(node: hbs.AST.Node, scopes: Scope[], fail: Fail): void {
  const line = node.loc?.start.line ?? 1;
  switch (node.type) {
    case 'Program':
      for (const statement of (node as hbs.AST.Program).body) checkNames(statement, scopes, fail);
      return;
    case 'ContentStatement':
    case 'CommentStatement':
      return;
    case 'MustacheStatement': {
      const mustache = node as hbs.AST.MustacheStatement;
      if (
        mustache.params.length > 0 ||
        mustache.hash !== undefined ||
        mustache.path.type !== 'PathExpression'
      ) {
        fail(line, `{{${pathName(mustache.path)} ...}}: only variables and #if, #unless, #each are allowed`);
      }
      // {{{name}}} and {{& name}} write a value unescaped into the HTML: what a visitor typed would be markup.
      if (!mustache.escaped) {
        fail(
          line,
          `{{{${pathName(mustache.path)}}}}: unescaped output is not allowed, write {{${pathName(mustache.path)}}}`,
        );
      }
      checkPath(mustache.path as hbs.AST.PathExpression, scopes, fail, 'scalar');
      return;
    }
    case 'BlockStatement': {
      const block = node as hbs.AST.BlockStatement;
      const helper = pathName(block.path);
      const param = block.params[0];
      if (
        !['if', 'unless', 'each'].includes(helper) ||
        block.params.length !== 1 ||
        param?.type !== 'PathExpression'
      ) {
        fail(line, `{{#${helper}}}: only {{#if name}}, {{#unless name}} and {{#each list}} are allowed`);
      }
      const target = checkPath(
        param as hbs.AST.PathExpression,
        scopes,
        fail,
        helper === 'each' ? 'list' : 'any',
      );
      const inner: Scope[] =
        helper === 'each' && target !== undefined
          ? [...scopes, { kind: 'item', list: target.name, items: target.items }]
          : scopes;
      if (block.program) checkNames(block.program, inner, fail);
      if (block.inverse) checkNames(block.inverse, scopes, fail);
      return;
    }
    default:
      fail(line, `${node.type} is not allowed (no partials, decorators or subexpressions)`);
  }
}

function pathName(node: hbs.AST.Node): string {
  return node.type === 'PathExpression' ? (node as hbs.AST.PathExpression).original : node.type;
}

/** Resolves a name against the scopes; returns the list declaration when `want` is a list. */
function checkPath(
  path: hbs.AST.PathExpression,
  scopes: Scope[],
  fail: Fail,
  want: 'scalar' | 'list' | 'any',
): { name: string; items: Extract<VariableDeclaration, { type: 'list' }>['items'] } | undefined {
  const line = path.loc?.start.line ?? 1;
  const name = path.original;
  if (path.data) {
    const [head, ...rest] = path.parts;
    if (head === 'root' || path.original.startsWith('@root')) {
      return checkPath({ ...path, data: false, depth: scopes.length - 1, parts: rest }, scopes, fail, want);
    }
    if (['index', 'first', 'last'].includes(String(head)) && scopes.some((scope) => scope.kind === 'item'))
      return;
    return fail(line, `{{${name}}} is not available here`);
  }
  const scope = scopes[scopes.length - 1 - path.depth];
  if (scope === undefined) return fail(line, `{{${name}}} goes above the template's variables`);
  const [head, ...rest] = path.parts;
  if (scope.kind === 'root') {
    if (head === undefined) return fail(line, `{{${name}}}: "this" at the top is not a variable`);
    const declared = Object.hasOwn(scope.variables, head) ? scope.variables[head] : undefined;
    if (declared === undefined)
      return fail(line, `{{${name}}} uses ${head}, which template.json does not declare`);
    if (rest.length > 0) return fail(line, `{{${name}}}: ${head} has no fields`);
    if (want === 'list' && declared.type !== 'list')
      return fail(line, `{{#each ${name}}}: ${head} is not a list`);
    if (want === 'scalar' && declared.type === 'list')
      return fail(line, `{{${name}}}: ${head} is a list, use {{#each ${head}}}`);
    return declared.type === 'list' ? { name: head, items: declared.items } : undefined;
  }
  if (want === 'list') return fail(line, `{{#each ${name}}}: lists of lists are not supported`);
  if (scope.items === 'string') {
    if (head !== undefined)
      return fail(line, `{{${name}}}: the items of ${scope.list} are strings, use {{this}}`);
    return;
  }
  if (head === undefined || !Object.hasOwn(scope.items, head) || rest.length > 0) {
    return fail(
      line,
      `{{${name}}}: the items of ${scope.list} have the fields ${Object.keys(scope.items).join(', ')}`,
    );
  }
  return;
}

function derivedText(html: string): string {
  const keepCase = { uppercase: false };
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'h1', options: keepCase },
      { selector: 'h2', options: keepCase },
      { selector: 'h3', options: keepCase },
      { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'img', format: 'skip' },
      { selector: '.preheader', format: 'skip' },
    ],
  });
}

/** The preview data must satisfy the declaration, and the template must render with it. */
function checkPreview(source: TemplateSource, declarationFile: string, text: string): void {
  const line = lineAt(text, Math.max(text.indexOf('"preview"'), 0));
  const checked = checkVariables(source.declaration.variables, source.declaration.preview, 'preview');
  if (!checked.ok) {
    throw new TemplateCompileError(
      declarationFile,
      line,
      checked.errors.map((error) => `${error.field} ${error.detail}`).join('; '),
    );
  }
  for (const [name, variable] of Object.entries(source.declaration.variables)) {
    if (variable.type === 'list' || variable.default === undefined) continue;
    const fits = checkVariables({ [name]: variable }, { [name]: variable.default }, 'variables');
    if (!fits.ok)
      throw new TemplateCompileError(
        declarationFile,
        line,
        `variables.${name}.default ${fits.errors[0]?.detail}`,
      );
  }
  const compiled: CompiledTemplate = {
    id: source.id,
    version: source.version,
    variables: source.declaration.variables,
    subject: evaluate(source.specs.subject),
    html: evaluate(source.specs.html),
    text: evaluate(source.specs.text),
  };
  try {
    renderTemplate(compiled, checked.values);
  } catch (error) {
    throw new TemplateCompileError(declarationFile, line, `the preview does not render: ${String(error)}`);
  }
}

function evaluate(spec: string): object {
  return new Function(`return ${spec};`)() as object;
}

function lineAt(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}
