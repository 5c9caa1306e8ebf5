import type { PostroomConfig, WebhookConfig } from '../config/config';
import { errorName } from '../errors';
import { METRIC, type Metrics } from '../metrics';
import type { Log } from '../ports';
import { fitSubmission, type SubmissionData, type WebhookEvent, type WebhookMessage } from './webhook-event';

/** Where producers put webhook events: the webhook queue. They never call an endpoint themselves. */
export interface WebhookQueue {
  enqueue(messages: ReadonlyArray<WebhookMessage>): Promise<void>;
}

/** What a producer needs to publish; absent (no webhooks configured, old wiring), nothing is published. */
export interface WebhookPublisher {
  readonly config: Pick<PostroomConfig, 'webhooks'>;
  readonly queue: WebhookQueue;
  readonly log: Log;
  readonly metrics: Metrics;
}

/** The endpoints that receive `event`: subscribed to its type, to its form (if they name forms), spam rule. */
export function subscribers(
  webhooks: ReadonlyArray<WebhookConfig>,
  event: Pick<WebhookEvent, 'type' | 'data'>,
): WebhookConfig[] {
  const data = event.data as { formId?: string; spam?: boolean };
  return webhooks.filter((endpoint) => {
    if (event.type === 'webhook.test' || !endpoint.events.includes(event.type)) return false;
    if (endpoint.forms !== undefined && (data.formId === undefined || !endpoint.forms.includes(data.formId)))
      return false;
    return data.spam !== true || endpoint.includeSpam;
  });
}

/**
 * Puts `event` on the webhook queue once per subscribed endpoint. Never throws: the mail (or the visitor's
 * answer) must not fail because a notification about it could not be queued. A failure is logged and counted
 * (WebhookEnqueueFailed, alarmed), and the event is lost to webhooks; the message status still has it.
 */
export async function publishWebhookEvent(
  publisher: WebhookPublisher | undefined,
  event: WebhookEvent,
): Promise<void> {
  if (publisher === undefined || publisher.config.webhooks.length === 0) return;
  const fitted =
    event.type === 'submission.received'
      ? fitSubmission(event as WebhookEvent & { data: SubmissionData })
      : event;
  const messages = subscribers(publisher.config.webhooks, fitted).map(
    (endpoint): WebhookMessage => ({ v: 1, endpointId: endpoint.id, ...fitted }),
  );
  if (messages.length === 0) return;
  try {
    await publisher.queue.enqueue(messages);
  } catch (error) {
    publisher.log.error('webhook event not queued', {
      eventId: event.id,
      type: event.type,
      outcome: 'webhook-enqueue-failed',
      error: errorName(error),
    });
    publisher.metrics.count(METRIC.webhookEnqueueFailed, messages.length);
  }
}
