import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkVariables } from '../functions/core/templates/declaration';
import { renderTemplate } from '../functions/core/templates/render';
import {
  compileTemplates,
  loadTemplates,
  TEMPLATES_DIR,
  TemplateCompileError,
  type TemplateSource,
} from '../infra/templates';
import type { CliIo } from './command';
import { table } from './queues';

/**
 * `postroom templates list|render <id>`: the templates in `templates/`, compiled and checked as `cdk synth`
 * compiles them (a template synth would refuse is exit 1, with its file and line), and one rendered with its
 * preview data or a file of variables, without any stack running.
 */
export async function runTemplatesCommand(
  command: string,
  rest: ReadonlyArray<string>,
  values: {
    json?: boolean | undefined;
    data?: string | undefined;
    out?: string | undefined;
    templates?: string | undefined;
  },
  io: CliIo,
  usage: string,
): Promise<number> {
  const dir = values.templates ?? TEMPLATES_DIR;
  let sources: TemplateSource[];
  try {
    sources = compileTemplates(dir);
  } catch (error) {
    if (!(error instanceof TemplateCompileError)) throw error;
    io.err(`${error.message}\n`);
    return 1;
  }
  switch (command) {
    case 'list': {
      if (values.json) {
        const list = sources.map((s) => ({
          id: s.id,
          version: s.version,
          variables: s.declaration.variables,
        }));
        io.out(`${JSON.stringify({ templates: list })}\n`);
        return 0;
      }
      if (sources.length === 0) {
        io.out(`No templates in ${dir}.\n`);
        return 0;
      }
      const rows = sources.map((s) => [
        s.id,
        s.version,
        Object.entries(s.declaration.variables)
          .map(([name, variable]) => `${name}${variable.required ? '' : '?'}:${variable.type}`)
          .join(' '),
      ]);
      io.out(table([['ID', 'VERSION', 'VARIABLES (? optional)'], ...rows]));
      return 0;
    }
    case 'render': {
      const id = rest[0];
      if (id === undefined || rest.length > 1) {
        io.err(`templates render needs one template id.\n\n${usage}`);
        return 2;
      }
      const source = sources.find((s) => s.id === id);
      if (source === undefined) {
        io.err(
          `There is no template "${id}" in ${dir} (templates: ${sources.map((s) => s.id).join(', ')}).\n`,
        );
        return 2;
      }
      let variables: unknown = source.declaration.preview;
      if (values.data !== undefined) {
        try {
          variables = JSON.parse(readFileSync(values.data, 'utf8'));
        } catch (error) {
          io.err(`--data ${values.data}: ${error instanceof Error ? error.message : String(error)}\n`);
          return 2;
        }
      }
      const checked = checkVariables(source.declaration.variables, variables, 'variables');
      if (!checked.ok) {
        for (const error of checked.errors) io.err(`${error.field} ${error.detail}\n`);
        return 1;
      }
      const compiled = (await loadTemplates([source]))[id];
      if (compiled === undefined) throw new Error(`${id} did not load`);
      const rendered = renderTemplate(compiled, checked.values);
      if (values.out !== undefined) {
        mkdirSync(values.out, { recursive: true });
        const files = { html: path.join(values.out, `${id}.html`), text: path.join(values.out, `${id}.txt`) };
        writeFileSync(files.html, rendered.html);
        writeFileSync(files.text, rendered.text);
        io.out(`${rendered.label}\nSubject: ${rendered.subject}\nWrote ${files.html} and ${files.text}\n`);
        return 0;
      }
      if (values.json) {
        const { subject, html, text, version } = rendered;
        io.out(`${JSON.stringify({ subject, html, text, version })}\n`);
        return 0;
      }
      io.out(`${rendered.label}\nSubject: ${rendered.subject}\n\n${rendered.text}\n`);
      return 0;
    }
    default:
      io.err(`Unknown command "templates ${command}".\n\n${usage}`);
      return 2;
  }
}
