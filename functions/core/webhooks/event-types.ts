/**
 * The events a webhook endpoint can subscribe to. One list, read by the config schema, the producers and the
 * dispatcher. `webhook.test` is only ever sent by `postroom webhooks test`, whatever the subscription.
 */
export const WEBHOOK_EVENT_TYPES = [
  'submission.received',
  'email.sent',
  'email.delivered',
  'email.bounced',
  'email.complained',
  'email.failed',
  // Scheduled send (core/scheduling): a message was scheduled or moved (again, with its new time), or canceled.
  'email.scheduled',
  'email.canceled',
] as const;

export type SubscribableEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export type WebhookEventType = SubscribableEventType | 'webhook.test';
