import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CompiledTemplates, TemplateCatalog } from '../functions/core/templates/catalog';
import { compileTemplates, loadTemplates, TEMPLATES_DIR } from '../infra/templates';

/**
 * The templates for the send handler running from sources: compiled by the synth compiler, again whenever a
 * file under `templates/` changes, so an edit shows on the next send or render without a restart. A
 * template that stops compiling fails the request that needs it (TemplateCompileError names file and line).
 */
export function localTemplates(dir: string = TEMPLATES_DIR): TemplateCatalog {
  let compiled: { stamp: string; templates: Promise<CompiledTemplates> } | undefined;
  return {
    load() {
      const stamp = filesStamp(dir);
      if (compiled?.stamp !== stamp) {
        compiled = { stamp, templates: Promise.resolve().then(() => loadTemplates(compileTemplates(dir))) };
      }
      return compiled.templates;
    },
  };
}

/** Every file's path, size and modification time: changes when any template file does. */
function filesStamp(dir: string): string {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const file = path.join(entry.parentPath, entry.name);
        const stat = statSync(file);
        return `${file}:${stat.size}:${stat.mtimeMs}`;
      })
      .sort()
      .join('\n');
  } catch {
    return '';
  }
}
