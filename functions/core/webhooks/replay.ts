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

/** How far back `replay --since` reaches: the attempt records' retention (functions/adapters/dynamodb-webhooks.ts). */
export const REPLAY_WINDOW_SECONDS = 14 * 86_400;

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/**
 * `--since`: a duration back from now (`90s`, `30m`, `2h`, `7d`) or an RFC 3339 time with its offset. Returns
 * the time in ms, or why it cannot be used (beyond the records' retention, in the future, unreadable).
 */
export function parseSince(
  value: string,
  nowMs: number,
): { ok: true; sinceMs: number } | { ok: false; reason: string } {
  const duration = /^(\d{1,7})([smhd])$/.exec(value.trim());
  let sinceMs: number;
  if (duration) {
    sinceMs = nowMs - Number(duration[1]) * UNIT_SECONDS[duration[2] as keyof typeof UNIT_SECONDS] * 1000;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value.trim())) {
    sinceMs = Date.parse(value.trim());
    if (Number.isNaN(sinceMs)) return { ok: false, reason: `"${value}" is not a valid time` };
    if (sinceMs > nowMs) return { ok: false, reason: `"${value}" is in the future` };
  } else {
    return {
      ok: false,
      reason: `"${value}" is neither a duration (90s, 30m, 2h, 7d) nor a time with an offset (2026-12-03T09:00:00Z)`,
    };
  }
  if (sinceMs < nowMs - REPLAY_WINDOW_SECONDS * 1000) {
    return { ok: false, reason: 'reaches beyond the 14 days attempt records are kept' };
  }
  return { ok: true, sinceMs };
}

export interface WindowReplayDeps {
  /** The messages recorded for the endpoint (attempted at least once) whose event happened at or after `sinceMs`. */
  readonly recorded: (endpointId: string, sinceMs: number) => Promise<ReadonlyArray<WebhookMessage>>;
  readonly queue: WebhookQueue;
}

/**
 * `postroom webhooks replay --endpoint ID --since 2h`: every event of the endpoint that happened since then,
 * oldest first, back on the webhook queue as replayWebhookEvent puts one: the same `webhook-id` each, a new
 * `webhook-timestamp` when the dispatcher signs it. Returns what was queued.
 */
export async function replayEndpointSince(
  endpointId: string,
  sinceMs: number,
  deps: WindowReplayDeps,
): Promise<WebhookMessage[]> {
  const messages = [...(await deps.recorded(endpointId, sinceMs))]
    .filter((message) => message.endpointId === endpointId && Date.parse(message.timestamp) >= sinceMs)
    .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  if (messages.length > 0) await deps.queue.enqueue(messages);
  return messages;
}
