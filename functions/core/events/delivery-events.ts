import * as z from 'zod/mini';
import type { PostroomConfig } from '../config/config';
import { errorName } from '../errors';
import { maskAddress } from '../mail/address';
import { CORRELATION_ID_TAG, FORM_ID_TAG, isTagValue, JOB_ID_TAG } from '../mail/message-tags';
import type { MessageStore, OutcomeStatus } from '../messages';
import { METRIC, type Metrics } from '../metrics';
import { type Log, withLogAttributes } from '../ports';
import { emailEvent } from '../webhooks/producers';
import { publishWebhookEvent, type WebhookQueue } from '../webhooks/publish';
import type { SuppressionList, SuppressionReason } from './suppression';
import '../zod';

/**
 * SES event publishing: for a configuration set with an SNS event destination, SES publishes one JSON
 * notification per event to the topic. Postroom subscribes its events function and records delivery,
 * bounce, complaint and reject events on the message they belong to, found by the `postroom-job-id`
 * message tag the SES transport sets on every mail.
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html
 */

export { JOB_ID_TAG } from '../mail/message-tags';

const timestamp = z.pipe(
  z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 timestamp')),
  z.transform((value: string) => new Date(value).toISOString()),
);
// Bounce and complaint reports are written by remote mail servers: keep to what could be an address.
const recipient = z.string().check(z.trim(), z.minLength(3), z.maxLength(254), z.includes('@'));

const mail = z.object({
  messageId: z.string().check(z.minLength(1), z.maxLength(512)),
  timestamp,
  destination: z.optional(z.array(z.string())),
  // SES gives each tag as a list of values.
  tags: z.optional(z.record(z.string(), z.array(z.string()))),
});

// Unknown fields are dropped, not refused: SES adds fields to these notifications over time.
const notificationSchema = z.discriminatedUnion('eventType', [
  z.object({
    eventType: z.literal('Delivery'),
    mail,
    delivery: z.object({ timestamp, recipients: z.array(recipient).check(z.minLength(1)) }),
  }),
  z.object({
    eventType: z.literal('Bounce'),
    mail,
    bounce: z.object({
      bounceType: z.enum(['Permanent', 'Transient', 'Undetermined']),
      bounceSubType: z.optional(z.string().check(z.maxLength(100))),
      bouncedRecipients: z.array(z.object({ emailAddress: recipient })).check(z.minLength(1)),
      timestamp,
    }),
  }),
  z.object({
    eventType: z.literal('Complaint'),
    mail,
    complaint: z.object({
      complainedRecipients: z.array(z.object({ emailAddress: recipient })).check(z.minLength(1)),
      timestamp,
      complaintFeedbackType: z.optional(z.string().check(z.maxLength(100))),
    }),
  }),
  z.object({
    eventType: z.literal('Reject'),
    mail,
    reject: z.optional(z.object({ reason: z.optional(z.string().check(z.maxLength(500))) })),
  }),
]);

export type DeliveryEvent = z.output<typeof notificationSchema>;

/** Events SES publishes that Postroom does not record (the destination asks only for the four above). */
const IGNORED_EVENT_TYPES = new Set([
  'Send',
  'Open',
  'Click',
  'DeliveryDelay',
  'Rendering Failure',
  'RenderingFailure',
  'Subscription',
]);

export type ParsedNotification =
  | { kind: 'event'; event: DeliveryEvent }
  | { kind: 'ignored'; eventType: string }
  | { kind: 'invalid'; reason: string };

/** Reads one SNS Message body. Never throws: garbage comes back as `invalid` with a reason fit for a log. */
export function parseNotification(body: string): ParsedNotification {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { kind: 'invalid', reason: 'not a JSON object' };
  }
  // Identity notifications (feedback forwarding, not a configuration set) name the type notificationType.
  const record = json as Record<string, unknown>;
  const eventType = record.eventType ?? record.notificationType;
  if (typeof eventType === 'string' && IGNORED_EVENT_TYPES.has(eventType)) {
    return { kind: 'ignored', eventType };
  }
  const parsed = notificationSchema.safeParse({ ...record, eventType });
  if (parsed.success) return { kind: 'event', event: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    kind: 'invalid',
    reason: issue ? `${issue.path.join('.') || '(notification)'}: ${issue.message}` : 'invalid notification',
  };
}

/** What one event means for the message and for the suppression list. */
export interface EventEffect {
  readonly status: OutcomeStatus;
  /** ISO 8601, from the event. */
  readonly at: string;
  /** For the history; addresses masked. */
  readonly detail: string;
  readonly suppress: ReadonlyArray<{ address: string; reason: SuppressionReason }>;
}

const STATUS_METRIC = {
  delivered: METRIC.delivered,
  bounced: METRIC.bounced,
  complained: METRIC.complained,
  rejected: METRIC.providerRejected,
} as const;

/**
 * Only a Permanent bounce suppresses: a Transient one (mailbox full, message too large) may succeed later,
 * and an Undetermined one says nothing about the address. Every complaint suppresses.
 * https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html#bounce-types
 */
export function effectOf(event: DeliveryEvent): EventEffect {
  const masked = (addresses: ReadonlyArray<string>) => addresses.map(maskAddress).join(', ');
  switch (event.eventType) {
    case 'Delivery':
      return {
        status: 'delivered',
        at: event.delivery.timestamp,
        detail: `to ${masked(event.delivery.recipients)}`,
        suppress: [],
      };
    case 'Bounce': {
      const { bounce } = event;
      const addresses = bounce.bouncedRecipients.map((r) => r.emailAddress);
      const type = bounce.bounceSubType
        ? `${bounce.bounceType} (${bounce.bounceSubType})`
        : bounce.bounceType;
      return {
        status: 'bounced',
        at: bounce.timestamp,
        detail: `${type}: ${masked(addresses)}`,
        suppress:
          bounce.bounceType === 'Permanent'
            ? addresses.map((address) => ({ address, reason: 'bounce' as const }))
            : [],
      };
    }
    case 'Complaint': {
      const addresses = event.complaint.complainedRecipients.map((r) => r.emailAddress);
      const type = event.complaint.complaintFeedbackType;
      return {
        status: 'complained',
        at: event.complaint.timestamp,
        detail: `${type ? `${type}: ` : ''}${masked(addresses)}`,
        suppress: addresses.map((address) => ({ address, reason: 'complaint' as const })),
      };
    }
    case 'Reject':
      // A reject has no timestamp of its own: SES rejects at once, when it accepts the send.
      return {
        status: 'rejected',
        at: event.mail.timestamp,
        detail: event.reject?.reason ?? 'rejected by SES',
        suppress: [],
      };
  }
}

export interface DeliveryEventDeps {
  readonly messages: MessageStore;
  readonly suppression: SuppressionList;
  readonly log: Log;
  readonly metrics: Metrics;
  /** Where `email.delivered|bounced|complained|failed` webhook events go; absent, none are published. */
  readonly webhooks?: {
    /** The endpoints, and the forms (a form id from a tag is taken only when it names one). */
    readonly config: Pick<PostroomConfig, 'webhooks' | 'forms'>;
    readonly queue: WebhookQueue;
  };
}

export type EventOutcome = 'recorded' | 'unknown-message' | 'ignored' | 'dropped';

/**
 * Handles the notifications of one invocation. A notification that cannot be read is logged and dropped:
 * retrying would not make it readable. A store that fails is different: every notification is still tried,
 * then the first such error is thrown, so Lambda retries the (asynchronous) invocation. A retried event
 * appends its history entry again; a suppression is a put, so it is the same item.
 */
export async function handleDeliveryNotifications(
  bodies: ReadonlyArray<string>,
  deps: DeliveryEventDeps,
): Promise<EventOutcome[]> {
  const failures: unknown[] = [];
  const outcomes: EventOutcome[] = [];
  for (const body of bodies) {
    try {
      outcomes.push(await handleNotification(body, deps));
    } catch (error) {
      // Already logged, with the event's ids.
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
  return outcomes;
}

async function handleNotification(body: string, deps: DeliveryEventDeps): Promise<EventOutcome> {
  const parsed = parseNotification(body);
  if (parsed.kind === 'ignored') {
    deps.log.info('delivery event ignored', { eventType: parsed.eventType, outcome: 'ignored' });
    return 'ignored';
  }
  if (parsed.kind === 'invalid') {
    deps.log.warn('delivery event dropped: unreadable', { outcome: 'dropped', reason: parsed.reason });
    deps.metrics.count(METRIC.eventDropped);
    return 'dropped';
  }
  const { event } = parsed;
  const jobId = event.mail.tags?.[JOB_ID_TAG]?.[0];
  // Every line about this event carries the id of the request that sent the mail, as the send and relay
  // functions' lines do, so one search finds the whole story.
  const correlationId = event.mail.tags?.[CORRELATION_ID_TAG]?.[0];
  const log = withLogAttributes(deps.log, {
    jobId,
    eventType: event.eventType,
    providerMessageId: event.mail.messageId,
    ...(correlationId !== undefined && isTagValue(correlationId) ? { correlationId } : {}),
  });
  try {
    return await recordEvent(event, jobId, { ...deps, log });
  } catch (error) {
    log.error('could not record a delivery event', { outcome: 'error', error: errorName(error) });
    throw error;
  }
}

async function recordEvent(
  event: DeliveryEvent,
  jobId: string | undefined,
  deps: DeliveryEventDeps,
): Promise<EventOutcome> {
  const { log, metrics } = deps;
  const effect = effectOf(event);
  metrics.count(STATUS_METRIC[effect.status]);

  // The address is suppressed whatever the message: a bounce is a bounce even for mail Postroom lost track of.
  await Promise.all(
    effect.suppress.map((entry) =>
      deps.suppression.add({
        ...entry,
        at: effect.at,
        ...(jobId === undefined ? {} : { messageId: jobId }),
      }),
    ),
  );
  if (effect.suppress.length > 0) {
    log.info('recipients suppressed', {
      reason: effect.suppress[0]?.reason,
      recipients: effect.suppress.map((entry) => maskAddress(entry.address)),
    });
  }

  if (jobId === undefined) {
    log.warn('delivery event without a postroom-job-id tag', { outcome: 'unknown-message' });
    metrics.count(METRIC.eventDropped);
    return 'unknown-message';
  }
  const recorded = await deps.messages.recordOutcome(jobId, {
    status: effect.status,
    at: effect.at,
    detail: effect.detail,
  });
  if (!recorded) {
    log.warn('delivery event for an unknown message', { outcome: 'unknown-message' });
    metrics.count(METRIC.eventDropped);
    return 'unknown-message';
  }
  await publishDeliveryEvent(event, jobId, effect, deps);
  log.info('delivery event recorded', { outcome: effect.status });
  return 'recorded';
}

const WEBHOOK_STATUS = {
  delivered: 'delivered',
  bounced: 'bounced',
  complained: 'complained',
  // SES took the mail, then refused it (a virus): for the owner, the mail failed.
  rejected: 'failed',
} as const;

/** The event's recipients, unmasked (they go to the owner's own endpoint, signed, over TLS). */
function eventRecipients(event: DeliveryEvent): ReadonlyArray<string> {
  switch (event.eventType) {
    case 'Delivery':
      return event.delivery.recipients;
    case 'Bounce':
      return event.bounce.bouncedRecipients.map((r) => r.emailAddress);
    case 'Complaint':
      return event.complaint.complainedRecipients.map((r) => r.emailAddress);
    case 'Reject':
      return event.mail.destination ?? [];
  }
}

/**
 * A webhook for a recorded event. The event id derives from the message, the status and the event's time, so
 * SNS's redelivery of a notification gives the receiver the same webhook-id. Never throws. `formId` comes from
 * the `postroom-form-id` tag the relay set on form mail (SES hands every tag back with the event), so an
 * endpoint's `forms` filter applies to these events as to the relay's; a sender cannot set that tag
 * (providerTags), and a value that is not one of the configured forms is left off.
 */
async function publishDeliveryEvent(
  event: DeliveryEvent,
  jobId: string,
  effect: EventEffect,
  deps: DeliveryEventDeps,
): Promise<void> {
  if (deps.webhooks === undefined || deps.webhooks.config.webhooks.length === 0) return;
  const status = WEBHOOK_STATUS[effect.status];
  const formId = event.mail.tags?.[FORM_ID_TAG]?.[0];
  const known = formId !== undefined && deps.webhooks.config.forms.some((form) => form.id === formId);
  await publishWebhookEvent(
    { ...deps.webhooks, log: deps.log, metrics: deps.metrics },
    emailEvent(`${jobId}_${status}_${effect.at.replace(/\D/g, '')}`, effect.at, {
      messageId: jobId,
      ...(known ? { formId } : {}),
      status,
      recipients: eventRecipients(event),
      providerMessageId: event.mail.messageId,
      ...(status === 'delivered' ? {} : { reason: effect.detail }),
    }),
  );
}
