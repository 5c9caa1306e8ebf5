import * as z from 'zod/mini';
import type { FieldError } from '../errors';
import { CONTROL_BUT_LINES, uncarriableText } from '../mail/text';

/**
 * What `templates/<id>/template.json` declares: the subject (a template itself), the variables a send must
 * or may give, the layout to wrap the HTML in, and the preview data. One schema, read at synth by the
 * compiler (infra/templates.ts) and at send time by the variable check below.
 */

/** Scalar variable types, and the types of an object list's fields. */
const SCALAR = z.enum(['string', 'number', 'boolean']);
export type ScalarType = z.output<typeof SCALAR>;

/** A template or variable id: what a URL path segment and a folder name can both be. */
export const TEMPLATE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const VARIABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const variable = z.union([
  z.strictObject({
    type: SCALAR,
    required: z.optional(z.boolean()),
    default: z.optional(z.union([z.string(), z.number(), z.boolean()])),
    description: z.optional(z.string()),
  }),
  z.strictObject({
    type: z.literal('list'),
    /** `"string"` for a list of strings, or the fields of each item (`{"description": "string", ...}`). */
    items: z.union([
      z.literal('string'),
      z.record(z.string().check(z.regex(VARIABLE_NAME, 'must be a plain name')), SCALAR),
    ]),
    required: z.optional(z.boolean()),
    maxItems: z.optional(z.number().check(z.int(), z.positive())),
    description: z.optional(z.string()),
  }),
]);
export type VariableDeclaration = z.output<typeof variable>;

export const templateDeclarationSchema = z.strictObject({
  subject: z.string().check(z.minLength(1), z.maxLength(998)),
  description: z.optional(z.string()),
  layout: z.optional(z.string().check(z.regex(TEMPLATE_ID, 'must name a file in templates/_layouts/'))),
  variables: z.record(z.string().check(z.regex(VARIABLE_NAME, 'must be a plain name')), variable),
  preview: z.record(z.string(), z.unknown()),
});
export type TemplateDeclaration = z.output<typeof templateDeclarationSchema>;

/** Bounds on what one send can put in a template, so a render stays small and fast. */
const MAX_STRING_CHARS = 10_000;
const DEFAULT_MAX_ITEMS = 100;

export type Variables = Record<string, unknown>;

export type CheckedVariables = { ok: true; values: Variables } | { ok: false; errors: FieldError[] };

/**
 * Checks a send's variables against the declaration: one error per variable at fault (missing, unknown or
 * of the wrong type), named `template.variables.<name>` (`prefix`). The values returned have every declared
 * variable, defaults filled in and absent optional ones as null, so the template's strict mode (which throws
 * on a missing name) sees every name it was checked against.
 */
export function checkVariables(
  declared: TemplateDeclaration['variables'],
  given: unknown,
  prefix = 'template.variables',
): CheckedVariables {
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) {
    return { ok: false, errors: [{ field: prefix, detail: 'must be an object' }] };
  }
  const input = (given ?? {}) as Record<string, unknown>;
  const errors: FieldError[] = [];
  const values: Variables = {};
  for (const name of Object.keys(input)) {
    if (!Object.hasOwn(declared, name)) {
      errors.push({ field: `${prefix}.${name.slice(0, 64)}`, detail: 'is not a variable of this template' });
    }
  }
  for (const [name, declaration] of Object.entries(declared)) {
    const value = Object.hasOwn(input, name) ? input[name] : undefined;
    if (value === undefined || value === null) {
      const fallback = declaration.type === 'list' ? undefined : declaration.default;
      if (fallback !== undefined) values[name] = fallback;
      else if (declaration.required === true)
        errors.push({ field: `${prefix}.${name}`, detail: 'is required' });
      else values[name] = null;
      continue;
    }
    const problem = valueProblem(declaration, value);
    if (problem === undefined) values[name] = value;
    else errors.push({ field: `${prefix}.${name}`, detail: problem });
  }
  return errors.length === 0 ? { ok: true, values } : { ok: false, errors };
}

function valueProblem(declaration: VariableDeclaration, value: unknown): string | undefined {
  if (declaration.type !== 'list') return scalarProblem(declaration.type, value);
  const max = declaration.maxItems ?? DEFAULT_MAX_ITEMS;
  if (!Array.isArray(value) || value.length > max) return `must be a list of at most ${max} items`;
  const items = declaration.items;
  for (const item of value) {
    if (items === 'string') {
      const problem = scalarProblem('string', item);
      if (problem !== undefined) return `each item ${problem}`;
      continue;
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return `each item must be an object with ${Object.keys(items).join(', ')}`;
    }
    const record = item as Record<string, unknown>;
    const unknown = Object.keys(record).find((key) => !Object.hasOwn(items, key));
    if (unknown !== undefined) return `items have no field ${unknown.slice(0, 64)}`;
    for (const [field, type] of Object.entries(items)) {
      const problem = scalarProblem(type, record[field]);
      if (problem !== undefined) return `each item's ${field} ${problem}`;
    }
  }
  return undefined;
}

function scalarProblem(type: ScalarType, value: unknown): string | undefined {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (value.length > MAX_STRING_CHARS) return `must be at most ${MAX_STRING_CHARS} characters`;
      if (CONTROL_BUT_LINES.test(value))
        return 'must not contain control characters other than tab and line breaks';
      return uncarriableText(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
  }
}
