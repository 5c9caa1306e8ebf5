import type { FormConfig, PostroomConfig } from '../config/config';
import { MAIL_JOB_VERSION, type MailJob, type MailJobAttachment } from '../mail/mail-job';
import type { CompiledTemplate, CompiledTemplates, RenderedMail } from '../templates/catalog';
import type { Variables } from '../templates/declaration';
import { renderTemplate } from '../templates/render';
import { boundSubject, type FormSubmission, renderSubject } from './form-submission';
import { autoresponseTemplate, notificationTemplate } from './form-templates';

/**
 * The mail a form sends, rendered from templates compiled at synth: the notification to the form's
 * recipients and the autoresponse to the visitor. This module and Handlebars' runtime are loaded by
 * import() on a form's first accepted submission (submit-form.ts), so neither is in the cold start.
 * The values follow form-templates.ts, whose declarations synth checked each form's templates against.
 */

/** A template a form names is not among the compiled ones: synth prevents it, so this is a broken build. */
export class FormTemplateMissingError extends Error {
  constructor(readonly templateId: string) {
    super(`the form's template ${templateId} is not in the function's templates`);
    this.name = 'FormTemplateMissingError';
  }
}

/** A file attached to the mail, as the notification lists it. */
export interface ListedFile {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
}

/** The notification's variables (NOTIFICATION_VARIABLES in form-templates.ts). */
export function notificationValues(
  form: FormConfig,
  submission: FormSubmission,
  meta: { id: string; createdAt: Date },
  files: ReadonlyArray<ListedFile> = [],
  filesNotKept: ReadonlyArray<ListedFile> = [],
): Variables {
  const email = submission.email.address;
  const fields: Array<{ name: string; label: string; value: string; multiline: boolean }> = [];
  const field = (name: string, label: string, value: string) =>
    fields.push({ name, label, value, multiline: value.includes('\n') });
  if (submission.name !== undefined) field('name', 'Name', submission.name);
  field('email', 'Email', email);
  for (const [name, value] of submission.extra) field(name, labelOf(name), value);
  field('message', 'Message', submission.message);
  return {
    formId: form.id,
    submissionId: meta.id,
    submittedAt: readableTime(meta.createdAt),
    subject: renderSubject(form.subject, submission),
    name: submission.name ?? null,
    email,
    replyTo: email,
    message: submission.message,
    fields,
    files: files.map(listed),
    filesNotKept: filesNotKept.map(listed),
  };
}

function listed(file: ListedFile) {
  return {
    filename: file.filename,
    contentType: file.contentType,
    size: formatBytes(file.size),
    bytes: file.size,
  };
}

/**
 * Builds the MailJob for an accepted submission. The visitor's address is Reply-To, never From.
 * `filesNotKept`: files the visitor sent that cannot be attached (a released spam submission of a form that
 * does not store files): the notification lists them as not attached, so the owner knows they existed.
 */
export function buildFormMailJob(
  config: PostroomConfig,
  form: FormConfig,
  submission: FormSubmission,
  meta: { id: string; createdAt: Date },
  attachments: ReadonlyArray<MailJobAttachment>,
  templates: CompiledTemplates,
  filesNotKept: ReadonlyArray<ListedFile> = [],
): MailJob {
  const rendered = render(
    templates,
    notificationTemplate(form),
    notificationValues(form, submission, meta, attachments, filesNotKept),
  );
  const job: MailJob = {
    v: MAIL_JOB_VERSION,
    id: meta.id,
    source: { kind: 'form', formId: form.id },
    createdAt: meta.createdAt.toISOString(),
    from: sender(config),
    to: [...form.recipients],
    replyTo: submission.email.address,
    subject: boundSubject(rendered.subject),
    text: rendered.text,
    html: rendered.html,
  };
  if (attachments.length > 0) job.attachments = [...attachments];
  return job;
}

/** The autoresponse for an accepted submission: configured text only, to the visitor's parsed address. */
export function buildAutoresponseJob(
  config: PostroomConfig,
  form: FormConfig,
  to: string,
  meta: { id: string; createdAt: Date },
  templates: CompiledTemplates,
): MailJob | undefined {
  const auto = form.autoresponse;
  const id = autoresponseTemplate(form);
  if (auto === undefined || id === undefined) return undefined;
  const rendered = render(templates, id, {
    formId: form.id,
    submittedAt: readableTime(meta.createdAt),
    subject: auto.subject,
    text: auto.text ?? null,
  });
  return {
    v: MAIL_JOB_VERSION,
    id: meta.id,
    source: { kind: 'autoresponse', formId: form.id },
    createdAt: meta.createdAt.toISOString(),
    from: sender(config),
    to: [to],
    subject: boundSubject(rendered.subject),
    text: rendered.text,
    html: rendered.html,
  };
}

/** `form-notification@3f2a9c1`: what the message's status names, as for a templated send. */
export function templateLabel(templates: CompiledTemplates, id: string): string {
  return `${id}@${lookup(templates, id).version}`;
}

function render(templates: CompiledTemplates, id: string, provided: Variables): RenderedMail {
  const template = lookup(templates, id);
  // The values are the form path's own, of the declared types (synth checked the template against them), so
  // no variable check runs here; only the template's defaults fill what the form path left null. A form's
  // fields can be longer than the 10,000 characters an API send may give a variable (maxFieldLength).
  let values = provided;
  for (const [name, variable] of Object.entries(template.variables)) {
    if (variable.type !== 'list' && variable.default !== undefined && values[name] == null) {
      values = { ...values, [name]: variable.default };
    }
  }
  return renderTemplate(template, values);
}

function lookup(templates: CompiledTemplates, id: string): CompiledTemplate {
  const template = Object.hasOwn(templates, id) ? templates[id] : undefined;
  if (template === undefined) throw new FormTemplateMissingError(id);
  return template;
}

/** The configured sender as From: the only From a job from a form ever has. */
function sender(config: PostroomConfig): MailJob['from'] {
  const { name, address } = config.sender;
  return name === undefined ? { address } : { name, address };
}

/** `company_name` reads "Company name": a label for a field the form names in code. */
function labelOf(name: string): string {
  const words = name.replace(/[_.-]+/g, ' ').trim();
  return words === '' ? name : words.charAt(0).toUpperCase() + words.slice(1);
}

/** `2026-12-03 18:23 UTC`: read by people, the same for every recipient's time zone. */
function readableTime(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
