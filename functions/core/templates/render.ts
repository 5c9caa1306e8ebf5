import Handlebars from 'handlebars/runtime';
import type { CompiledTemplate, RenderedMail } from './catalog';
import type { Variables } from './declaration';

/**
 * Renders a template compiled at synth with variables already checked (declaration.ts checkVariables).
 * Only Handlebars' runtime is here (about 20 KB): parsing and compiling happened at synth. This module is
 * loaded by import() from the send path, so requests without a template never load it.
 */

/**
 * The runtime's default environment: nothing in the functions registers a helper or partial on it, and the
 * templates were compiled with knownHelpersOnly, so they call only the built-in ones.
 */
const runtime = Handlebars;

type Delegate = (context: Variables) => string;
const delegates = new WeakMap<CompiledTemplate, { subject: Delegate; html: Delegate; text: Delegate }>();

function delegatesOf(template: CompiledTemplate) {
  let found = delegates.get(template);
  if (found === undefined) {
    found = {
      // biome-ignore lint/suspicious/noExplicitAny: Handlebars types the specification as an opaque object
      subject: runtime.template(template.subject as any),
      // biome-ignore lint/suspicious/noExplicitAny: as above
      html: runtime.template(template.html as any),
      // biome-ignore lint/suspicious/noExplicitAny: as above
      text: runtime.template(template.text as any),
    };
    delegates.set(template, found);
  }
  return found;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
const CONTROL_RUNS = /[\u0000-\u001f\u007f]+/g;

export function renderTemplate(template: CompiledTemplate, values: Variables): RenderedMail {
  const render = delegatesOf(template);
  return {
    // The subject becomes a header: any line break or control character a value brought is made a space,
    // so no value can end the header and start another (RFC 5322 section 2.2).
    subject: render.subject(values).replace(CONTROL_RUNS, ' ').trim(),
    html: lf(render.html(values)),
    text: lf(render.text(values)),
    version: template.version,
    label: `${template.id}@${template.version}`,
  };
}

/** Line breaks as LF, as every other body is kept (send-request.ts): the mail writes each as CRLF. */
function lf(value: string): string {
  return value.includes('\r') ? value.replace(/\r\n?/g, '\n') : value;
}
