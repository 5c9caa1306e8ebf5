import type { FieldError } from '../errors';
import type { MessageStatus, StatusChange } from '../messages';

/**
 * Resend's wire format, translated to and from Postroom's: the request bodies of `POST /emails`,
 * `POST /emails/batch` and `PATCH /emails/{id}`, and the answers. Pure renaming and reshaping: every rule (which
 * addresses, which headers, the schedule's bounds, the attachment checks) stays the core's, so a field Resend
 * has and Postroom does not (`topic_id`, an attachment's `path`) reaches the core's schema as it is and is
 * refused there, by name. https://resend.com/docs/api-reference/emails/send-email
 */

/** Resend's snake_case names for the core's fields, at the top level of a message. */
const TOP_LEVEL_NAMES: Readonly<Record<string, string>> = {
  reply_to: 'replyTo',
  scheduled_at: 'scheduledAt',
};

/**
 * Resend derives an attachment's type from its file name when `content_type` is not given; the core wants it
 * said. The types the core checks by signature (core/forms/uploads.ts), and common text ones.
 */
const TYPE_BY_EXTENSION: Readonly<Record<string, string>> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  zip: 'application/zip',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  txt: 'text/plain',
  csv: 'text/csv',
  ics: 'text/calendar',
  html: 'text/html',
  json: 'application/json',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One Resend message as the body of `POST /v1/send`. `null` is Resend's "not given" (the SDK sends
 * `topic_id: null`), so it is dropped; a one-address `reply_to` list becomes the address the core takes.
 * Anything that is not an object is handed on unchanged, for the core to refuse.
 */
export function sendBodyFromResend(message: unknown): unknown {
  if (!isRecord(message)) return message;
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    if (value === null) continue;
    const coreName = TOP_LEVEL_NAMES[name] ?? name;
    if (name === 'reply_to' && Array.isArray(value) && value.length === 1) body[coreName] = value[0];
    else if (name === 'attachments' && Array.isArray(value)) body[coreName] = value.map(attachmentFromResend);
    else body[coreName] = value;
  }
  return body;
}

function attachmentFromResend(attachment: unknown): unknown {
  if (!isRecord(attachment)) return attachment;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attachment)) {
    if (value === null) continue;
    out[name === 'content_type' ? 'contentType' : name] = value;
  }
  if (out.contentType === undefined && typeof out.filename === 'string') {
    const extension = /\.([A-Za-z0-9]{1,8})$/.exec(out.filename)?.[1]?.toLowerCase();
    const type = extension === undefined ? undefined : TYPE_BY_EXTENSION[extension];
    if (type !== undefined) out.contentType = type;
  }
  return out;
}

/** `PATCH /emails/{id}` `{scheduled_at}` as the body of `PATCH /v1/messages/{id}` `{scheduledAt}`. */
export function rescheduleBodyFromResend(body: unknown): unknown {
  if (!isRecord(body)) return body;
  return Object.fromEntries(
    Object.entries(body)
      .filter(([, value]) => value !== null)
      .map(([name, value]) => [TOP_LEVEL_NAMES[name] ?? name, value]),
  );
}

/** A core field name (`replyTo`, `[2].attachments[0].contentType`) in Resend's words. */
export function resendFieldName(field: string): string {
  return field
    .replace(/(^|\.)replyTo\b/g, '$1reply_to')
    .replace(/(^|\.)scheduledAt\b/g, '$1scheduled_at')
    .replace(/\.contentType\b/g, '.content_type');
}

/** Field errors as one message, the way Resend's `message` names what is wrong. */
export function fieldErrorsMessage(errors: ReadonlyArray<FieldError>): string {
  return errors.map((error) => `\`${resendFieldName(error.field)}\` ${error.detail}`).join('; ');
}

/**
 * Resend's `last_event` for a Postroom status. Resend has no `sending` (the attempt has started, the provider
 * has not taken it: still queued) nor `rejected` (SES refused it after accepting the call: it failed).
 * https://resend.com/docs/dashboard/emails/introduction#understand-email-events
 */
const LAST_EVENT: Readonly<Record<MessageStatus, ResendLastEvent>> = {
  queued: 'queued',
  sending: 'queued',
  sent: 'sent',
  failed: 'failed',
  delivered: 'delivered',
  bounced: 'bounced',
  complained: 'complained',
  rejected: 'failed',
  scheduled: 'scheduled',
  canceled: 'canceled',
};

export type ResendLastEvent =
  | 'queued'
  | 'sent'
  | 'failed'
  | 'delivered'
  | 'bounced'
  | 'complained'
  | 'scheduled'
  | 'canceled';

/** What `GET /v1/messages/{id}` answers. */
export interface CoreMessageView {
  readonly id: string;
  readonly status: MessageStatus;
  readonly scheduledAt?: string;
  readonly history: ReadonlyArray<StatusChange>;
}

/**
 * Resend's email object for a message. Postroom keeps a message's status and history, never its content or
 * addresses (they are personal data the status table does not hold), so those fields are `null`.
 * https://resend.com/docs/api-reference/emails/retrieve-email
 */
export function resendEmailObject(message: CoreMessageView) {
  return {
    object: 'email' as const,
    id: message.id,
    to: null,
    from: null,
    created_at: message.history[0]?.at ?? null,
    subject: null,
    html: null,
    text: null,
    bcc: null,
    cc: null,
    reply_to: null,
    last_event: LAST_EVENT[message.status] ?? 'queued',
    scheduled_at: message.scheduledAt ?? null,
  };
}
