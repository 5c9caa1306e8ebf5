import type { FormConfig } from '../config/config';
import { type FieldError, ValidationError } from '../errors';
import { type Address, parseAddress } from '../mail/address';
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
  return boundSubject(filled);
}

/**
 * A subject as a form's mail carries it: one line of at most 250 characters, never empty. The notification
 * template's rendered subject goes through it too, whatever the template (form-mail.ts).
 */
export function boundSubject(subject: string): string {
  const line = subject.replace(/\s+/g, ' ').trim();
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

function normalizeLines(value: string): string {
  return value.replace(/\r\n?/g, '\n');
}

/** A field name fit to echo back in an error: bounded and printable. */
function printableFieldName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are replaced
  const printable = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return printable.length > 64 ? `${printable.slice(0, 64)}...` : printable;
}
