import type { TemplateDeclaration } from './declaration';

/**
 * A template as the send function receives it: compiled at synth (infra/templates.ts) into Handlebars
 * template specifications, with the declaration its variables are checked against. `version` is a hash of
 * the compiled form, so it changes exactly when what a send renders changes.
 */
export interface CompiledTemplate {
  readonly id: string;
  readonly version: string;
  readonly variables: TemplateDeclaration['variables'];
  /** Handlebars template specifications (`Handlebars.precompile`'s output, evaluated). */
  readonly subject: object;
  readonly html: object;
  readonly text: object;
}

export type CompiledTemplates = Readonly<Record<string, CompiledTemplate>>;

/**
 * Where the compiled templates come from: the module the build ships beside the function (`templates.mjs`),
 * loaded on the first request that names a template, so requests without one never read it.
 */
export interface TemplateCatalog {
  load(): Promise<CompiledTemplates>;
}

/** What a template renders to, and the name the message's status shows (`welcome@3f2a9c1`). */
export interface RenderedMail {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  readonly version: string;
  readonly label: string;
}

/** A catalog over templates already in memory (the local stack and tests, after compiling them). */
export function catalogOf(templates: CompiledTemplates): TemplateCatalog {
  return { load: async () => templates };
}
