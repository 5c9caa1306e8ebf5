import type { WebhookConfig } from '../config/config';
import type { WebhookQueue } from './publish';
import type { WebhookMessage } from './webhook-event';

export interface ReplayDeps {
  readonly webhooks: ReadonlyArray<WebhookConfig>;
  /** The message an event's record kept for an endpoint (attempted at least once), if any. */
  readonly read: (eventId: string, endpointId: string) => Promise<WebhookMessage | undefined>;
  readonly queue: WebhookQueue;
}

/**
 * Puts an event back on the webhook queue for the endpoints that had it (or one of them), unchanged: the same
 * `webhook-id`, so a receiver that has it already can drop it; the dispatcher signs it with a new
 * `webhook-timestamp`, as receivers refuse old ones. Returns what was queued.
 */
export async function replayWebhookEvent(
  eventId: string,
  deps: ReplayDeps,
  endpointId?: string,
): Promise<WebhookMessage[]> {
  const endpoints = deps.webhooks.filter(
    (endpoint) => endpointId === undefined || endpoint.id === endpointId,
  );
  const found = await Promise.all(endpoints.map((endpoint) => deps.read(eventId, endpoint.id)));
  const messages = found.filter((message): message is WebhookMessage => message !== undefined);
  if (messages.length > 0) await deps.queue.enqueue(messages);
  return messages;
}
