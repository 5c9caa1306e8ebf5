import type { FormConfig, PostroomConfig } from '../config/config';
import { type FieldError, ValidationError } from '../errors';
import { escapeHtml } from '../http';
import { type Address, parseAddress } from '../mail/address';
import { MAIL_JOB_VERSION, type MailJob, type MailJobAttachment } from '../mail/mail-job';
import { CONTROL_BUT_LINES, uncarriableText } from '../mail/text';
import { CAPTCHA_FIELDS } from './captcha';
import type { SubmittedFields } from './form-body';

/** The honeypot: hidden from people by the form's CSS, filled in by bots that fill every field. */
export const HONEYPOT_FIELD = '_gotcha';

const MAX_NAME_LENGTH = 200;
const MAX_SUBJECT_LENGTH = 250;
const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL_ANY = /[\u0000-\u001f\u007f]/;

export interface FormSubmission {
  readonly email: Address;
  readonly name: string | undefined;
  readonly message: string;
  /** Further fields, in the order they were submitted. */
  readonly extra: ReadonlyArray<readonly [name: string, value: string]>;
  readonly honeypotFilled: boolean;
}

/** Checks every field and reports all problems at once, each naming its field. */
export function validateSubmission(fields: SubmittedFields, form: FormConfig): FormSubmission {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  const extra: Array<[string, string]> = [];
  let email: Address | undefined;
  let name: string | undefined;
  let message: string | undefined;
  let honeypotFilled = false;

  for (const [fieldName, value] of fields) {
    const field = printableFieldName(fieldName);
    if (seen.has(fieldName)) {
      errors.push({ field, detail: 'is given more than once' });
      continue;
    }
    seen.add(fieldName);

    if (fieldName === HONEYPOT_FIELD) {
      honeypotFilled = value.trim() !== '';
      continue;
    }
    // Other underscore fields, and captcha widgets' tokens, are form controls and never reach the mail.
    if (fieldName.startsWith('_') || CAPTCHA_FIELDS.has(fieldName)) continue;

    if (value.length > form.maxFieldLength) {
      errors.push({ field, detail: `must be at most ${form.maxFieldLength} characters` });
      continue;
    }

    // Lone surrogates and noncharacters, in any field: text.ts says why no mail carries them.
    const unfit = uncarriableText(value);
    if (unfit !== undefined) {
      errors.push({ field, detail: unfit });
      continue;
    }

    switch (fieldName) {
      case 'email': {
        const parsed = parseAddress(value);
        if (parsed.ok) email = parsed.value;
        else errors.push({ field, detail: parsed.reason });
        break;
      }
      case 'name':
        if (CONTROL_ANY.test(value)) errors.push({ field, detail: 'must be a single line of text' });
        else if (value.length > MAX_NAME_LENGTH)
          errors.push({ field, detail: `must be at most ${MAX_NAME_LENGTH} characters` });
        else name = value.trim() === '' ? undefined : value.trim();
        break;
      case 'message':
        if (CONTROL_BUT_LINES.test(value))
          errors.push({ field, detail: 'must not contain control characters' });
        else message = normalizeLines(value).trim();
        break;
      default:
        if (!FIELD_NAME.test(fieldName)) {
          errors.push({
            field,
            detail: 'field names must be 1-64 letters, digits, spaces, dots, dashes or underscores',
          });
        } else if (CONTROL_BUT_LINES.test(value)) {
          errors.push({ field, detail: 'must not contain control characters' });
        } else if (value.trim() !== '') {
          extra.push([fieldName, normalizeLines(value).trim()]);
        }
    }
  }

  if (email === undefined && !errors.some((e) => e.field === 'email')) {
    errors.push({ field: 'email', detail: 'is required' });
  }
  if (!message && !errors.some((e) => e.field === 'message')) {
    errors.push({ field: 'message', detail: 'is required' });
  }
  if (extra.length > form.maxExtraFields) {
    errors.push({
      field: '(body)',
      detail: `has more than ${form.maxExtraFields} fields besides email, name and message`,
    });
  }
  if (errors.length > 0 || email === undefined || !message) throw new ValidationError(errors);
  return { email, name, message, extra, honeypotFilled };
}

/** Fills `{{field}}` placeholders. The result is one line: a header can never be split by a field's content. */
export function renderSubject(template: string, submission: FormSubmission): string {
  const parts = subjectParts(template);
  let filled = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    // Odd parts are field names, even parts the text between them.
    filled += i % 2 === 0 ? part : fieldValue(submission, part);
  }
  const line = filled.replace(/\s+/g, ' ').trim();
  // Cut, then trim again: the cut may fall just after a space. A line of at most that many UTF-16 units has
  // at most that many characters, so only a longer one is cut by characters.
  const bounded =
    line.length <= MAX_SUBJECT_LENGTH ? line : [...line].slice(0, MAX_SUBJECT_LENGTH).join('').trimEnd();
  return bounded === '' ? 'New form submission' : bounded;
}

/** A subject template split once at its placeholders: text, field name, text, field name, ..., text. */
const subjectTemplates = new Map<string, ReadonlyArray<string>>();

function subjectParts(template: string): ReadonlyArray<string> {
  let parts = subjectTemplates.get(template);
  if (parts === undefined) {
    parts = template.split(/\{\{\s*([A-Za-z0-9 _.-]+?)\s*\}\}/);
    // Templates come from configuration, a handful per function; the bound only guards against misuse.
    if (subjectTemplates.size < 256) subjectTemplates.set(template, parts);
  }
  return parts;
}

/** A placeholder's value; when a field name repeats, the last one given wins, as it did with a Map. */
function fieldValue(submission: FormSubmission, key: string): string {
  if (key === 'name' && submission.name !== undefined) return submission.name;
  for (let i = submission.extra.length - 1; i >= 0; i--) {
    const [name, value] = submission.extra[i] as readonly [string, string];
    if (name === key) return value;
  }
  if (key === 'email') return submission.email.address;
  if (key === 'message') return submission.message;
  return '';
}

export interface RenderedBody {
  readonly text: string;
  readonly html: string;
}

/** A file attached to the mail, as the body lists it. */
export interface ListedFile {
  readonly filename: string;
  readonly size: number;
}

export function renderBody(
  form: FormConfig,
  submission: FormSubmission,
  files: ReadonlyArray<ListedFile> = [],
): RenderedBody {
  const replyTo = submission.email.address;
  const rows: ReadonlyArray<readonly [string, string]> = [
    ['Name', submission.name ?? '(not given)'],
    ['Email', replyTo],
    ...submission.extra,
  ];
  // Built by concatenation, one line at a time: this runs for every accepted submission.
  let text = `New submission to the form "${form.id}".\n\n`;
  let html =
    '<!doctype html>\n<html><body style="font-family:sans-serif">\n' +
    `<p>New submission to the form &quot;${escapeHtml(form.id)}&quot;.</p>\n<table cellpadding="4">\n`;
  for (const [label, value] of rows) {
    text += `${label}: ${indentLines(value)}\n`;
    html += `<tr><th align="left" valign="top">${escapeHtml(label)}</th><td>${htmlText(value)}</td></tr>\n`;
  }
  text += `\nMessage:\n${submission.message}\n\n`;
  html += `</table>\n<p><strong>Message:</strong></p>\n<p>${htmlText(submission.message)}</p>\n`;
  if (files.length > 0) {
    text += 'Attached files:\n';
    html += '<p><strong>Attached files:</strong></p>\n<ul>\n';
    for (const file of files) {
      text += `  ${file.filename} (${formatBytes(file.size)})\n`;
      html += `<li>${escapeHtml(file.filename)} (${formatBytes(file.size)})</li>\n`;
    }
    text += '\n';
    html += '</ul>\n';
  }
  text += `--\nReply to this mail to answer ${replyTo}.\n`;
  html += `<p style="color:#666">Reply to this mail to answer ${escapeHtml(replyTo)}.</p>\n</body></html>\n`;
  return { text, html };
}

/** Builds the MailJob for an accepted submission. The visitor's address is Reply-To, never From. */
export function buildFormMailJob(
  config: PostroomConfig,
  form: FormConfig,
  submission: FormSubmission,
  meta: { id: string; createdAt: Date },
  attachments: ReadonlyArray<MailJobAttachment> = [],
): MailJob {
  const body = renderBody(form, submission, attachments);
  const job: MailJob = {
    v: MAIL_JOB_VERSION,
    id: meta.id,
    source: { kind: 'form', formId: form.id },
    createdAt: meta.createdAt.toISOString(),
    from: sender(config),
    to: [...form.recipients],
    replyTo: submission.email.address,
    subject: renderSubject(form.subject, submission),
    text: body.text,
    html: body.html,
  };
  if (attachments.length > 0) job.attachments = [...attachments];
  return job;
}

/** The configured sender as From: the only From a job from a form ever has. */
function sender(config: PostroomConfig): MailJob['from'] {
  const { name, address } = config.sender;
  return name === undefined ? { address } : { name, address };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function normalizeLines(value: string): string {
  return value.replace(/\r\n?/g, '\n');
}

function htmlText(value: string): string {
  const escaped = escapeHtml(value);
  return escaped.includes('\n') ? escaped.replace(/\n/g, '<br>\n') : escaped;
}

/** A multi-line value under its label: continuation lines indented. */
function indentLines(value: string): string {
  return value.includes('\n') ? value.replace(/\n/g, '\n  ') : value;
}

/** A field name fit to echo back in an error: bounded and printable. */
function printableFieldName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are replaced
  const printable = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return printable.length > 64 ? `${printable.slice(0, 64)}...` : printable;
}

/** The autoresponse for an accepted submission: configured text only, to the visitor's parsed address. */
export function buildAutoresponseJob(
  config: PostroomConfig,
  form: FormConfig,
  to: string,
  meta: { id: string; createdAt: Date },
): MailJob | undefined {
  const auto = form.autoresponse;
  if (!auto) return undefined;
  return {
    v: MAIL_JOB_VERSION,
    id: meta.id,
    source: { kind: 'autoresponse', formId: form.id },
    createdAt: meta.createdAt.toISOString(),
    from: sender(config),
    to: [to],
    subject: auto.subject,
    text: auto.text,
    html: auto.html ?? `<!doctype html>\n<html><body><p>${htmlText(auto.text)}</p></body></html>\n`,
  };
}
