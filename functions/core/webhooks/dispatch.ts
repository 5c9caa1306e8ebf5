import { Webhook } from 'standardwebhooks';
import type { PostroomConfig } from '../config/config';
import { errorName } from '../errors';
import { DURATION_METRIC, ENDPOINT_DIMENSION, METRIC, type Metrics } from '../metrics';
import type { Clock, Log } from '../ports';
import { parseWebhookMessage, payloadOf, type WebhookMessage } from './webhook-event';

/**
 * When each attempt is made, counted from the failure of the one before: at once, 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h (about 28 hours in all), then the webhooks dead-letter queue. SQS delays stop at 15 min,
 * so the dispatcher hides the received message with ChangeMessageVisibility instead (up to 12 h).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
 */
export const RETRY_SCHEDULE_SECONDS = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length;
/** SQS's longest visibility timeout: a Retry-After beyond it is waited in several steps. */
export const MAX_DELAY_SECONDS = 43_200;
/** How long an endpoint has to answer. */
export const ATTEMPT_TIMEOUT_MS = 15_000;
/** How much of an answer an attempt record keeps. */
export const ANSWER_START_CHARS = 256;

/** What an endpoint did with one attempt. */
export type WebhookAnswer =
  | {
      readonly kind: 'answered';
      readonly status: number;
      readonly retryAfter?: string | undefined;
      /** The first ANSWER_START_CHARS characters of the body. */
      readonly bodyStart: string;
    }
  /** No HTTP answer: timeout, refused connection, TLS failure, or an address the SSRF guard refused. */
  | { readonly kind: 'unreachable'; readonly reason: string; readonly retryable: boolean };

/** Posts one signed webhook. The HTTP adapter (functions/adapters/webhook-sender.ts) implements it. */
export interface WebhookSender {
  post(
    url: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    timeoutMs: number,
  ): Promise<WebhookAnswer>;
}

export interface WebhookAttempt {
  readonly endpointId: string;
  readonly at: string;
  /** The `webhook-timestamp` sent, in seconds. */
  readonly timestamp: number;
  readonly status?: number;
  readonly latencyMs: number;
  /** The start of the answer, or why there was none. */
  readonly answer: string;
  readonly outcome: DispatchDecision['kind'];
}

export interface EndpointState {
  readonly disabled: boolean;
  readonly disabledReason?: string;
  readonly disabledAt?: string;
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
}

/** Attempts and endpoint state, in the record table (`whevt#`, `whep#` items). */
export interface WebhookStore {
  /** Appends an attempt to the event's record, which also keeps the message for `postroom webhooks replay`. */
  recordAttempt(message: WebhookMessage, attempt: WebhookAttempt): Promise<void>;
  endpointState(endpointId: string): Promise<EndpointState>;
  recordResult(endpointId: string, result: 'success' | 'failure', at: string): Promise<void>;
  disable(endpointId: string, reason: string, at: string): Promise<void>;
}

/** The dispatcher's view of the webhook queue. */
export interface WebhookDispatchQueue {
  retryLater(receiptHandle: string, delaySeconds: number): Promise<void>;
  deadLetter(body: string, details: { reason: string; eventId?: string; endpointId?: string }): Promise<void>;
}

export type DispatchDecision =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string }
  | { readonly kind: 'dead-letter'; readonly reason: string }
  | { readonly kind: 'disable'; readonly reason: string };

/**
 * What an answer means, after attempt number `attempt` (1-based). 2xx delivers. 410 Gone is the receiver
 * saying the endpoint is no more (as Standard Webhooks suggests): disabled, the event dead-lettered. Every
 * other failure (3xx, which is not followed: a redirect could point anywhere; 4xx; 5xx; no answer) is
 * retried on the schedule; 429 and 5xx answers' Retry-After is honoured when longer than the schedule.
 */
export function decide(
  answer: WebhookAnswer,
  attempt: number,
  nowMs: number,
  schedule: ReadonlyArray<number> = RETRY_SCHEDULE_SECONDS,
): DispatchDecision {
  let reason: string;
  let retryAfter = 0;
  if (answer.kind === 'answered') {
    if (answer.status >= 200 && answer.status < 300) return { kind: 'delivered' };
    if (answer.status === 410) return { kind: 'disable', reason: 'the endpoint answered 410 Gone' };
    reason = `the endpoint answered ${answer.status}${answer.status >= 300 && answer.status < 400 ? ' (redirects are not followed)' : ''}`;
    if (answer.status === 429 || answer.status >= 500)
      retryAfter = retryAfterSeconds(answer.retryAfter, nowMs);
  } else {
    reason = answer.reason;
    if (!answer.retryable) return { kind: 'dead-letter', reason };
  }
  if (attempt >= schedule.length)
    return { kind: 'dead-letter', reason: `${schedule.length} attempts failed; the last: ${reason}` };
  const scheduled = schedule[attempt] ?? MAX_DELAY_SECONDS;
  return {
    kind: 'retry',
    delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(scheduled, retryAfter)),
    reason,
  };
}

/** Retry-After as seconds or an HTTP date (RFC 9110 10.2.3); anything else counts as absent. */
export function retryAfterSeconds(value: string | undefined, nowMs: number): number {
  if (value === undefined) return 0;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - nowMs) / 1000)) : 0;
}

/**
 * The Standard Webhooks headers for one attempt. `secrets` is the endpoint's secret: one `whsec_...`, or two
 * separated by a space while rotating, which gives one signature each, space-separated, so a receiver that
 * knows either verifies.
 */
export function signedHeaders(
  secrets: string,
  message: Pick<WebhookMessage, 'id'>,
  body: string,
  at: Date,
): Record<string, string> {
  const signature = secrets
    .split(/\s+/)
    .filter((secret) => secret !== '')
    .map((secret) => new Webhook(secret).sign(message.id, at, body))
    .join(' ');
  return {
    'content-type': 'application/json',
    'user-agent': 'Postroom-Webhooks/1',
    'webhook-id': message.id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

/** One received webhook queue message (from an SQS record or the local poller). */
export interface WebhookRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** SQS ApproximateReceiveCount: the attempt number. */
  readonly receiveCount: number;
}

export interface DispatchDeps {
  readonly config: Pick<PostroomConfig, 'webhooks'>;
  readonly sender: WebhookSender;
  readonly store: WebhookStore;
  readonly queue: WebhookDispatchQueue;
  /** The endpoint's signing secret(s); undefined when it could not be read. */
  readonly secret: (endpointId: string) => string | undefined;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: Metrics;
  /** The retry schedule. @default RETRY_SCHEDULE_SECONDS (tests shorten it) */
  readonly schedule?: ReadonlyArray<number>;
}

export type DispatchOutcome = DispatchDecision['kind'] | 'endpoint-disabled' | 'invalid';

/** Handles a batch; the returned failures are the records to receive again (after their new visibility). */
export async function dispatchBatch(
  records: ReadonlyArray<WebhookRecord>,
  deps: DispatchDeps,
): Promise<{ failures: string[]; outcomes: DispatchOutcome[] }> {
  // One record's failure (a ChangeMessageVisibility refused with MessageNotInflight, a dead-letter send that
  // failed) must not fail the batch: that would bring back every event of it, delivered ones too. The failed
  // record alone is received again after its visibility timeout.
  const settled = await Promise.allSettled(records.map((record) => dispatchRecord(record, deps)));
  const outcomes = settled.map((result, index): DispatchOutcome => {
    if (result.status === 'fulfilled') return result.value;
    deps.log.error('webhook record failed; it will be received again', {
      messageId: records[index]?.messageId,
      outcome: 'retry',
      error: errorName(result.reason),
    });
    return 'retry';
  });
  return {
    failures: records.filter((_, index) => outcomes[index] === 'retry').map((record) => record.messageId),
    outcomes,
  };
}

async function dispatchRecord(record: WebhookRecord, deps: DispatchDeps): Promise<DispatchOutcome> {
  const { clock, log, metrics, queue, store } = deps;
  const parsed = parseWebhookMessage(record.body);
  if (!parsed.ok) {
    await queue.deadLetter(record.body, { reason: `unreadable webhook message: ${parsed.reason}` });
    metrics.count(METRIC.webhookDeadLettered);
    log.warn('webhook dead-lettered', {
      messageId: record.messageId,
      outcome: 'invalid',
      reason: parsed.reason,
    });
    return 'invalid';
  }
  const message = parsed.message;
  const context = {
    eventId: message.id,
    endpointId: message.endpointId,
    type: message.type,
    attempt: record.receiveCount,
  };
  // Per endpoint as well as in total: the dashboard graphs each endpoint's outcomes (infra/constructs/webhooks.ts).
  // Only a configured endpoint's id becomes a dimension value, so the metric count stays bounded by the config.
  const endpoint = deps.config.webhooks.find((candidate) => candidate.id === message.endpointId);
  const perEndpoint = { [ENDPOINT_DIMENSION]: message.endpointId };
  const deadLetter = async (reason: string) => {
    await queue.deadLetter(record.body, { reason, eventId: message.id, endpointId: message.endpointId });
    if (endpoint === undefined) metrics.count(METRIC.webhookDeadLettered);
    else metrics.count(METRIC.webhookDeadLettered, 1, perEndpoint);
    log.warn('webhook dead-lettered', { ...context, outcome: 'dead-letter', reason });
  };
  if (endpoint === undefined) {
    await deadLetter('the endpoint is no longer configured');
    return 'dead-letter';
  }
  const state = await store.endpointState(endpoint.id);
  if (state.disabled) {
    // Kept, not dropped: after `postroom webhooks enable`, `replay` sends it.
    await deadLetter(`the endpoint is disabled (${state.disabledReason ?? 'by the operator'})`);
    return 'endpoint-disabled';
  }
  const secret = deps.secret(endpoint.id);
  if (secret === undefined) {
    await deadLetter('the endpoint has no signing secret');
    return 'dead-letter';
  }

  const body = payloadOf(message);
  const sentAt = new Date(clock.now());
  const started = clock.now();
  let answer: WebhookAnswer;
  try {
    answer = await deps.sender.post(
      endpoint.url,
      signedHeaders(secret, message, body, sentAt),
      body,
      ATTEMPT_TIMEOUT_MS,
    );
  } catch (error) {
    answer = { kind: 'unreachable', reason: `could not send: ${errorName(error)}`, retryable: true };
  }
  const latencyMs = clock.now() - started;
  metrics.duration(DURATION_METRIC.webhookLatency, latencyMs);
  const decision = decide(answer, record.receiveCount, clock.now(), deps.schedule);
  const at = new Date(clock.now()).toISOString();
  // A lost record must not resend a delivered event, nor lose a failed one: it is logged and the decision stands.
  await store
    .recordAttempt(message, {
      endpointId: endpoint.id,
      at,
      timestamp: Math.floor(sentAt.getTime() / 1000),
      ...(answer.kind === 'answered' ? { status: answer.status } : {}),
      latencyMs,
      answer: answer.kind === 'answered' ? answer.bodyStart : answer.reason,
      outcome: decision.kind,
    })
    .catch((error: unknown) =>
      log.error('webhook attempt not recorded', { ...context, error: errorName(error) }),
    );
  await store
    .recordResult(endpoint.id, decision.kind === 'delivered' ? 'success' : 'failure', at)
    .catch((error: unknown) =>
      log.error('webhook endpoint state not recorded', { ...context, error: errorName(error) }),
    );

  switch (decision.kind) {
    case 'delivered':
      metrics.count(METRIC.webhookDelivered, 1, perEndpoint);
      log.info('webhook delivered', {
        ...context,
        outcome: 'delivered',
        status: (answer as { status: number }).status,
        latencyMs,
      });
      return 'delivered';
    case 'retry':
      await queue.retryLater(record.receiptHandle, decision.delaySeconds);
      metrics.count(METRIC.webhookRetried, 1, perEndpoint);
      log.warn('webhook failed; will retry', {
        ...context,
        outcome: 'retry',
        reason: decision.reason,
        delaySeconds: decision.delaySeconds,
      });
      return 'retry';
    case 'disable':
      await store.disable(endpoint.id, decision.reason, at);
      metrics.count(METRIC.webhookEndpointDisabled, 1, perEndpoint);
      log.warn('webhook endpoint disabled', { ...context, outcome: 'disable', reason: decision.reason });
      await deadLetter(decision.reason);
      return 'disable';
    case 'dead-letter':
      await deadLetter(decision.reason);
      return 'dead-letter';
  }
}
