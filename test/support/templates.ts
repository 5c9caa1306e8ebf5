import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CompiledTemplates, TemplateCatalog } from '../../functions/core/templates/catalog';
import { compileTemplates, evaluateTemplates, loadTemplates } from '../../infra/templates';

/** The shipped templates (templates/), compiled as synth compiles them and loaded as the function loads them. */
export async function shippedTemplates(): Promise<CompiledTemplates> {
  return loadTemplates(compileTemplates());
}

/** Writes a `templates/` folder of the given files (`welcome/html.hbs` → text) in a fresh temp folder. */
export function templatesFolder(files: Readonly<Record<string, string>>): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'postroom-templates-')), 'templates');
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

let compiled: CompiledTemplates | undefined;

/** The shipped templates, compiled once per test file and evaluated in place: for code that builds mail synchronously. */
export function shippedTemplatesNow(): CompiledTemplates {
  compiled ??= evaluateTemplates(compileTemplates());
  return compiled;
}

/** The shipped templates as the send function's catalog (compiled on first use). */
export const shippedCatalog: TemplateCatalog = { load: async () => shippedTemplatesNow() };
