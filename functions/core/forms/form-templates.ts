import type { FormConfig, PostroomConfig } from '../config/config';
import type { TemplateDeclaration, VariableDeclaration } from '../templates/declaration-schema';

/**
 * What the form path gives the templates it renders: the notification to the form's recipients
 * (`form-notification`, or `forms[].template`) and the autoresponse to the visitor (`form-autoresponse`, or
 * `forms[].autoresponse.template`). Declared once, here, in the templates' own declaration format: synth
 * checks each form's templates against it (infra/templates.ts checkFormTemplates), and the form path builds
 * its values to it (form-mail.ts). `required: true` means the form path always gives a value; an optional
 * one may be null.
 */

export const FORM_NOTIFICATION = 'form-notification';
export const FORM_AUTORESPONSE = 'form-autoresponse';

/** Most fields a notification lists: maxExtraFields (at most 50) besides name, email and message. */
const MAX_FIELDS = 53;
/** Most files a form takes (config.ts files.maxFiles). */
const MAX_FILES = 10;

export const NOTIFICATION_VARIABLES: TemplateDeclaration['variables'] = {
  formId: { type: 'string', required: true, description: 'the form id' },
  submissionId: { type: 'string', required: true, description: "the notification's message id" },
  submittedAt: { type: 'string', required: true, description: 'when, as 2026-12-03 18:23 UTC' },
  subject: { type: 'string', required: true, description: "the form's subject, its placeholders filled" },
  name: { type: 'string', description: "the visitor's name, when given" },
  email: { type: 'string', required: true, description: "the visitor's address" },
  replyTo: { type: 'string', required: true, description: "the mail's Reply-To: the visitor's address" },
  message: { type: 'string', required: true, description: "the visitor's message" },
  fields: {
    type: 'list',
    items: { name: 'string', label: 'string', value: 'string', multiline: 'boolean' },
    required: true,
    maxItems: MAX_FIELDS,
    description: 'every field in the order name, email, the other fields as submitted, message',
  },
  files: {
    type: 'list',
    items: { filename: 'string', contentType: 'string', size: 'string', bytes: 'number' },
    required: true,
    maxItems: MAX_FILES,
    description: 'the attached files (empty when none): name, type, size as read (12.3 KiB) and in bytes',
  },
  filesNotKept: {
    type: 'list',
    items: { filename: 'string', contentType: 'string', size: 'string', bytes: 'number' },
    required: true,
    maxItems: MAX_FILES,
    description:
      'files the visitor sent that are not attached because they were not kept: a submission held as spam and released later, of a form whose archive does not store files (empty otherwise)',
  },
};

/**
 * The autoresponse holds only what the configuration says, never what the visitor wrote: a form that mailed
 * a visitor's text back to the address they typed would mail strangers a spammer's message (backscatter).
 * So no name, no message, no fields here.
 */
export function autoresponseVariables(form: FormConfig): TemplateDeclaration['variables'] {
  return {
    formId: { type: 'string', required: true, description: 'the form id' },
    submittedAt: { type: 'string', required: true, description: 'when, as 2026-12-03 18:23 UTC' },
    subject: { type: 'string', required: true, description: 'autoresponse.subject' },
    text: {
      type: 'string',
      required: form.autoresponse?.text !== undefined,
      description: 'autoresponse.text',
    },
  };
}

/** The templates a form renders with: its own, or the shipped ones. */
export function notificationTemplate(form: FormConfig): string {
  return form.template ?? FORM_NOTIFICATION;
}

export function autoresponseTemplate(form: FormConfig): string | undefined {
  if (form.autoresponse === undefined) return undefined;
  return form.autoresponse.template ?? FORM_AUTORESPONSE;
}

export interface FormTemplateProblem {
  /** The configuration field that names the template, as config errors name fields: `postroom.forms["contact"].template`. */
  readonly field: string;
  readonly message: string;
}

/**
 * Checks every form's templates against what the form path provides: each must exist, and declare only
 * variables the form path gives, of the same type, required only when it always gives them. Run at synth
 * with the compiled templates' declarations, so a form never fails in production on a template it names.
 */
export function formTemplateProblems(
  config: Pick<PostroomConfig, 'forms'>,
  declarations: Readonly<Record<string, TemplateDeclaration['variables']>>,
): FormTemplateProblem[] {
  const problems: FormTemplateProblem[] = [];
  for (const form of config.forms) {
    const check = (field: string, id: string, provided: TemplateDeclaration['variables']) => {
      const declared = Object.hasOwn(declarations, id) ? declarations[id] : undefined;
      if (declared === undefined) {
        const known = Object.keys(declarations).sort().join(', ') || 'none';
        problems.push({ field, message: `template "${id}" is not in templates/ (templates: ${known})` });
        return;
      }
      for (const [name, variable] of Object.entries(declared)) {
        const problem = variableProblem(variable, Object.hasOwn(provided, name) ? provided[name] : undefined);
        if (problem !== undefined) {
          const names = Object.keys(provided).join(', ');
          problems.push({
            field,
            message: `template "${id}" declares ${name}, ${problem} (a form provides ${names})`,
          });
        }
      }
    };
    const at = `postroom.forms["${form.id}"]`;
    check(`${at}.template`, notificationTemplate(form), NOTIFICATION_VARIABLES);
    const autoresponse = autoresponseTemplate(form);
    if (autoresponse !== undefined) {
      check(`${at}.autoresponse.template`, autoresponse, autoresponseVariables(form));
    }
  }
  return problems;
}

function variableProblem(
  declared: VariableDeclaration,
  provided: VariableDeclaration | undefined,
): string | undefined {
  if (provided === undefined) return 'which the form path does not provide';
  if (declared.type !== provided.type) return `a ${declared.type}, but a form provides a ${provided.type}`;
  if (declared.required === true && provided.required !== true) {
    return 'required, but this form does not always give it (make it optional)';
  }
  if (declared.type !== 'list' || provided.type !== 'list') return undefined;
  if (declared.items === 'string' || provided.items === 'string') {
    return declared.items === provided.items ? undefined : 'with items of another kind than a form provides';
  }
  for (const [field, type] of Object.entries(declared.items)) {
    const given = Object.hasOwn(provided.items, field) ? provided.items[field] : undefined;
    if (given !== type) {
      return `whose items have ${field}:${type}, but a form's have ${Object.entries(provided.items)
        .map(([name, kind]) => `${name}:${kind}`)
        .join(', ')}`;
    }
  }
  if ((declared.maxItems ?? 100) < (provided.maxItems ?? 100)) {
    return `with maxItems ${declared.maxItems}, but a form may give up to ${provided.maxItems}`;
  }
  return undefined;
}
