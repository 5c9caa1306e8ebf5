import type { OutboundMail } from '../ports';

/**
 * The message tags Postroom puts on every mail it hands to SES. SES returns them in each event it publishes
 * for the mail (`mail.tags`), which is how the events function finds the message and the request behind it.
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-send-email.html
 */
export const JOB_ID_TAG = 'postroom-job-id';
export const CORRELATION_ID_TAG = 'postroom-correlation-id';
/**
 * The form of form mail and autoresponses: SES events carry no other trace of it, and a webhook endpoint's
 * `forms` filter needs it on `email.delivered|bounced|complained|failed` (core/events/delivery-events.ts).
 */
export const FORM_ID_TAG = 'postroom-form-id';
/** The tags only Postroom sets: a sender's tag of the same name is left off. */
export const RESERVED_TAGS: ReadonlySet<string> = new Set([JOB_ID_TAG, CORRELATION_ID_TAG, FORM_ID_TAG]);

// SES tag values: ASCII letters, digits, `_ - . @`, at most 256 characters.
// https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_MessageTag.html
const TAG_VALUE = /^[A-Za-z0-9_.@-]{1,256}$/;

/** Whether SES accepts `value` as a tag value; a correlation id that is not is left off, not rewritten. */
export function isTagValue(value: string): boolean {
  return TAG_VALUE.test(value);
}

/** Postroom's own tags, then the sender's; a sender's tag cannot stand in for one of Postroom's. */
export function providerTags(mail: OutboundMail): Array<{ name: string; value: string }> {
  const own = [{ name: JOB_ID_TAG, value: mail.jobId }];
  if (mail.correlationId !== undefined && isTagValue(mail.correlationId)) {
    own.push({ name: CORRELATION_ID_TAG, value: mail.correlationId });
  }
  // Form ids are lowercase letters, digits and dashes (config), always a valid tag value.
  if (mail.formId !== undefined && isTagValue(mail.formId))
    own.push({ name: FORM_ID_TAG, value: mail.formId });
  return [...own, ...(mail.tags ?? []).filter((tag) => !RESERVED_TAGS.has(tag.name))];
}
