import * as z from 'zod/mini';

/**
 * What `templates/<id>/template.json` declares: the subject (a template itself), the variables a send must
 * or may give, the layout to wrap the HTML in, and the preview data. One schema, read at synth by the
 * compiler (infra/templates.ts); the types are those of the send's variable check (declaration.ts).
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
