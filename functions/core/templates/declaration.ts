import type { FieldError } from '../errors';
import { CONTROL_BUT_LINES, uncarriableText } from '../mail/text';
import type { ScalarType, TemplateDeclaration, VariableDeclaration } from './declaration-schema';

export type { ScalarType, TemplateDeclaration, VariableDeclaration } from './declaration-schema';

/**
 * The variable check a send runs (in the function, loaded with the renderer): plain code, no schema
 * library, so nothing it needs joins the code every cold start reads.
 */

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
