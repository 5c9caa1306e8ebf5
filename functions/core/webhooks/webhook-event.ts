import * as z from 'zod/mini';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './event-types';

/**
 * A webhook event: what a producer (send, relay, events function, `postroom webhooks test`) has to say. The
 * body a receiver gets is `{type, timestamp, data}`; `id` travels as the `webhook-id` header, the same on
 * every retry and replay, so a receiver can drop what it already has.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export interface WebhookEvent {
  /** `msg_` and a random id. */
  readonly id: string;
  readonly type: WebhookEventType;
  /** When the event happened (ISO 8601): not when it was sent, which the `webhook-timestamp` header says. */
  readonly timestamp: string;
  readonly data: WebhookEventData;
}

export type WebhookEventData = SubmissionData | EmailData | TestData;

/** `submission.received`: a form submission that passed every guard, or (with includeSpam) a caught one. */
export interface SubmissionData {
  readonly formId: string;
  /** The id the visitor's request was answered with; also the message id of the owner's mail. */
  readonly submissionId: string;
  readonly spam: boolean;
  /** The guard that caught it, for spam. */
  readonly guard?: string;
  /** The submitted fields by name (email, name, message and the form's own), underscore controls left out. */
  readonly fields: Readonly<Record<string, string>>;
  /** Files as metadata only: their content stays in the mail. */
  readonly files: ReadonlyArray<{ field: string; name: string; type: string; size: number }>;
  /** Present when field values were shortened to keep the payload under MAX_PAYLOAD_BYTES. */
  readonly truncated?: true;
}

/** `email.*`: a message's status changed. */
export interface EmailData {
  readonly messageId: string;
  /** The form of form mail and autoresponses; absent for API mail and when the event cannot tell. */
  readonly formId?: string;
  readonly status: 'sent' | 'delivered' | 'bounced' | 'complained' | 'failed' | 'scheduled' | 'canceled';
  /** When a scheduled message goes (`scheduled`: the new time after a move) or would have gone (`canceled`). */
  readonly scheduledAt?: string;
  /**
   * The recipients the event is about, unmasked: the endpoint is the owner's own, reached over TLS with a
   * signature, and a bounce is only actionable with the address.
   */
  readonly recipients: ReadonlyArray<string>;
  /** Why (failed, bounced, complained), as the message history says it (addresses masked). */
  readonly reason?: string;
  /** The provider's reference (SES MessageId or the SMTP relay's reply). */
  readonly providerMessageId?: string;
}

export interface TestData {
  readonly endpointId: string;
  readonly message: string;
}

/**
 * Receivers and queues take well under this, but a webhook is a notification, not a transport: larger
 * submissions get their field values shortened (`truncated: true`). The full text is in the owner's mail.
 */
export const MAX_PAYLOAD_BYTES = 20 * 1024;

/** The exact body sent to receivers (and signed). */
export function payloadOf(event: Pick<WebhookEvent, 'type' | 'timestamp' | 'data'>): string {
  return JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
}

/** Shortens a submission's field values until its payload fits MAX_PAYLOAD_BYTES. */
export function fitSubmission(event: WebhookEvent & { data: SubmissionData }): WebhookEvent {
  let current: WebhookEvent = event;
  let limit = 4096;
  while (Buffer.byteLength(payloadOf(current)) > MAX_PAYLOAD_BYTES && limit >= 16) {
    const fields = Object.fromEntries(
      Object.entries(event.data.fields).map(([name, value]) => [name, cut(value, limit)]),
    );
    current = { ...event, data: { ...event.data, fields, truncated: true } };
    limit = Math.floor(limit / 2);
  }
  return current;
}

function cut(value: string, chars: number): string {
  if (value.length <= chars) return value;
  // Never split a surrogate pair: the payload must stay valid UTF-8.
  const end = /[\uD800-\uDBFF]/.test(value.charAt(chars - 1)) ? chars - 1 : chars;
  return `${value.slice(0, end)}…`;
}

/**
 * The webhook queue message, version 1: one event for one endpoint. The producers fan out (one message per
 * subscribed endpoint), so each endpoint's retries, schedule and dead-lettering are its own. Read and written
 * only through this schema, built at its first use: only the dispatcher parses these messages, and the
 * producers (the send function among them) need not build it at cold start.
 */
function buildWebhookMessageSchema() {
  return z.strictObject({
    v: z.literal(1),
    id: z
      .string()
      .check(z.regex(/^msg_[A-Za-z0-9_-]{1,64}$/, 'must be msg_ and 1-64 letters, digits, _ or -')),
    endpointId: z.string().check(z.minLength(1), z.maxLength(32)),
    type: z.enum([...WEBHOOK_EVENT_TYPES, 'webhook.test']),
    timestamp: z.iso.datetime(),
    data: z.record(z.string(), z.unknown()),
  });
}

let webhookMessageSchema: ReturnType<typeof buildWebhookMessageSchema> | undefined;

export type WebhookMessage = WebhookEvent & { readonly v: 1; readonly endpointId: string };

export function serializeWebhookMessage(message: WebhookMessage): string {
  return JSON.stringify(message);
}

export type ParsedWebhookMessage =
  | { readonly ok: true; readonly message: WebhookMessage }
  | { readonly ok: false; readonly reason: string };

export function parseWebhookMessage(body: string): ParsedWebhookMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  webhookMessageSchema ??= buildWebhookMessageSchema();
  const result = webhookMessageSchema.safeParse(json);
  if (result.success) return { ok: true, message: result.data as unknown as WebhookMessage };
  const issue = result.error.issues[0];
  return {
    ok: false,
    reason: issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'invalid webhook message',
  };
}

/**
 * An event id: `msg_` and `seed` (a random id, or a job id and what happened to it, which makes a producer's
 * repeat of the same event the same webhook) reduced to letters, digits and `_`.
 */
export function webhookEventId(seed: string): string {
  return `msg_${seed.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64) || 'event'}`;
}
