import type { FieldError } from '../errors';
import type { CompiledTemplates, RenderedMail } from './catalog';
import { checkVariables } from './declaration';
import { renderTemplate } from './render';

/**
 * A request's `template: {id, variables}` rendered, or the errors to answer 422 with: `template.id` for an
 * unknown template, one `template.variables.<name>` per variable at fault. Loaded by import() with the
 * runtime, only by requests that name a template.
 */
export type TemplateRendering = { ok: true; rendered: RenderedMail } | { ok: false; errors: FieldError[] };

export function renderReference(
  templates: CompiledTemplates,
  reference: { id: string; variables?: Record<string, unknown> | undefined },
  prefix = 'template',
): TemplateRendering {
  const template = Object.hasOwn(templates, reference.id) ? templates[reference.id] : undefined;
  if (template === undefined) {
    const known = Object.keys(templates).sort().join(', ') || 'none';
    return {
      ok: false,
      errors: [{ field: `${prefix}.id`, detail: `is not a template (templates: ${known})` }],
    };
  }
  const checked = checkVariables(template.variables, reference.variables, `${prefix}.variables`);
  if (!checked.ok) return checked;
  return { ok: true, rendered: renderTemplate(template, checked.values) };
}
