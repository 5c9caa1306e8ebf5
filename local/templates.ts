import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { PostroomConfig } from '../functions/core/config/config';
import { escapeHtml } from '../functions/core/http';
import type { CompiledTemplates, TemplateCatalog } from '../functions/core/templates/catalog';
import { checkVariables } from '../functions/core/templates/declaration';
import { renderTemplate } from '../functions/core/templates/render';
import {
  checkFormTemplates,
  compileTemplates,
  loadTemplates,
  TEMPLATES_DIR,
  type TemplateSource,
} from '../infra/templates';

/**
 * The templates for `npm start`: compiled by the synth compiler, again whenever a file under `templates/`
 * changes, so an edit shows on the next send, render or preview without a restart. A template that stops
 * compiling fails the requests that need it (TemplateCompileError names file and line; a form's template that
 * does not fit the form, ConfigError names the field) and the preview page shows the error.
 */
export class LocalTemplates {
  private compiled:
    | { stamp: string; sources: TemplateSource[]; templates: Promise<CompiledTemplates> }
    | { stamp: string; error: unknown }
    | undefined;

  /**
   * `forms`: the configuration's forms, whose templates are checked as synth checks them (a form's template
   * must exist and declare only what the form path provides).
   */
  constructor(
    readonly dir: string = TEMPLATES_DIR,
    private readonly forms?: Pick<PostroomConfig, 'forms'>,
  ) {}

  /** Changes whenever a file of the folder does: its paths, sizes and modification times. */
  stamp(): string {
    try {
      return readdirSync(this.dir, { recursive: true, withFileTypes: true })
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

  private current() {
    const stamp = this.stamp();
    if (this.compiled?.stamp !== stamp) {
      try {
        const sources = compileTemplates(this.dir);
        if (this.forms !== undefined) checkFormTemplates(this.forms, sources);
        this.compiled = { stamp, sources, templates: loadTemplates(sources) };
      } catch (error) {
        this.compiled = { stamp, error };
      }
    }
    return this.compiled;
  }

  readonly catalog: TemplateCatalog = {
    load: async () => {
      const current = this.current();
      if ('error' in current) throw current.error;
      return current.templates;
    },
  };

  /**
   * `GET /templates`: each template rendered with its preview data (subject, the HTML in a sandboxed frame,
   * the text part), reloaded by the page when a file changes (it polls `/templates/stamp`).
   */
  async page(): Promise<{ html: string; nonce: string }> {
    const nonce = randomBytes(16).toString('base64');
    const current = this.current();
    let body: string;
    if ('error' in current) {
      body = `<p class="error">${escapeHtml(current.error instanceof Error ? current.error.message : String(current.error))}</p>`;
    } else {
      const templates = await current.templates;
      body = current.sources
        .map((source) => {
          const template = templates[source.id];
          const checked = checkVariables(source.declaration.variables, source.declaration.preview);
          if (template === undefined || !checked.ok) return '';
          const rendered = renderTemplate(template, checked.values);
          return `<section id="${escapeHtml(source.id)}">
<h2>${escapeHtml(rendered.label)}</h2>
<p><b>Subject:</b> ${escapeHtml(rendered.subject)}</p>
<div class="parts">
<iframe class="html" title="${escapeHtml(source.id)} HTML" sandbox srcdoc="${escapeHtml(rendered.html)}"></iframe>
<pre class="text">${escapeHtml(rendered.text)}</pre>
</div>
</section>`;
        })
        .join('\n');
    }
    const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postroom templates</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #1f2328; }
section { margin-bottom: 40px; }
.parts { display: flex; gap: 16px; flex-wrap: wrap; }
iframe.html { width: 640px; max-width: 100%; height: 640px; border: 1px solid #d1d9e0; }
pre.text { flex: 1; min-width: 280px; white-space: pre-wrap; border: 1px solid #d1d9e0; padding: 12px; margin: 0; }
.error { color: #b42318; font-family: monospace; white-space: pre-wrap; }
</style></head>
<body>
<h1>Templates</h1>
<p>Each template of <code>templates/</code> rendered with its preview data. The page reloads when a file changes.</p>
${body}
<script nonce="${nonce}">
let stamp = ${JSON.stringify(stampDigest(current.stamp))};
setInterval(async () => {
  const next = await fetch('/templates/stamp').then((r) => r.text()).catch(() => stamp);
  if (next !== stamp) location.reload();
}, 1000);
</script>
</body></html>
`;
    return { html, nonce };
  }

  /** What the page polls: a short digest of the stamp (no file paths leave the process). */
  stampDigest(): string {
    return stampDigest(this.stamp());
  }
}

function stampDigest(stamp: string): string {
  let hash = 0;
  for (let i = 0; i < stamp.length; i++) hash = (hash * 31 + stamp.charCodeAt(i)) | 0;
  return (hash >>> 0).toString(16);
}
