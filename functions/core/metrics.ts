/**
 * The custom metrics Postroom emits, in CloudWatch embedded metric format. One definition, used by the
 * functions that emit them and by the dashboard and alarms that read them, so the names cannot drift.
 * Each function emits under its service name; a few metrics are also emitted per reason or guard, from the
 * fixed value lists below, never from free text: every distinct dimension value is a new CloudWatch metric.
 */
import { atLevel, type MonitoringLevel } from './monitoring';

export const METRIC_NAMESPACE = 'Postroom';

export const SERVICE = {
  send: 'postroom-send',
  relay: 'postroom-relay',
  events: 'postroom-events',
  webhooks: 'postroom-webhooks',
} as const;

export const METRIC = {
  /** A submission was validated and its job enqueued (send). */
  accepted: 'MailAccepted',
  /** A submission was refused with a 4xx (send). */
  rejected: 'SubmissionRejected',
  /** A submission was dropped by a spam guard, answered as a success (send). */
  spamBlocked: 'SpamBlocked',
  /** The provider accepted a job (relay). */
  sent: 'MailSent',
  /** A send attempt failed and will be retried (relay). */
  retried: 'MailRetried',
  /**
   * A job went to the dead-letter queue (relay). This is the dead-lettered count: the relay marks a job failed
   * only when it dead-letters it, so there is no separate MailDeadLettered metric.
   */
  failed: 'MailFailed',
  /**
   * The provider refused a recipient while it took the mail (or was asked to take it) for others: one per
   * refused recipient, per attempt (relay).
   */
  recipientRefused: 'RecipientRefused',
  /**
   * An SMTP session could not be set up safely: STARTTLS not offered or refused, the TLS handshake failed, or
   * AUTH was refused (relay). No mail is sent in plaintext; the job is retried. One per failed attempt.
   */
  relaySessionFailed: 'RelaySessionFailed',
  /**
   * A provider certainly did not take a job and the relay tried the next one at once (relay, per provider: the
   * one that failed). docs/failover.md
   */
  failedOver: 'FailedOver',
  /** A relay opened a provider's circuit breaker: every relay skips it until a probe succeeds (relay, per provider). */
  breakerOpen: 'BreakerOpen',
  /**
   * A provider refused a send for its account or setup (paused, suspended, AUTH refused, identity not verified):
   * the job failed over, and the operator is alarmed (relay, per provider).
   */
  providerAccountError: 'ProviderAccountError',
  /**
   * An attempt whose outcome is unknown (no answer after the body was sent): retried on the same provider under
   * the claim, never failed over; a copy may exist (relay, per provider).
   */
  uncertainSend: 'UncertainSend',
  /** A job that was sent before was delivered again and dropped (relay). */
  duplicate: 'DuplicateDropped',
  /** A scheduled job whose message was canceled came due and was dropped, unsent (relay). */
  canceledDropped: 'CanceledDropped',
  /** A scheduled job whose message was moved to another time came due at the old one and was dropped (relay). */
  supersededDropped: 'SupersededDropped',
  /** SES delivered a mail to a recipient's mail server (events). */
  delivered: 'MailDelivered',
  /** A recipient's mail server bounced a mail, hard or soft (events). */
  bounced: 'MailBounced',
  /** A recipient marked a mail as spam (events). */
  complained: 'MailComplained',
  /** SES rejected a mail it had accepted, e.g. for a virus (events). */
  providerRejected: 'MailRejected',
  /** An event the events function could not read or could not match to a message (events). */
  eventDropped: 'DeliveryEventDropped',
  /** A webhook event could not be put on the webhook queue; the mail went on (send, relay, events). */
  webhookEnqueueFailed: 'WebhookEnqueueFailed',
  /** An endpoint answered a webhook with 2xx (webhooks). */
  webhookDelivered: 'WebhookDelivered',
  /** A webhook attempt failed and will be retried on the schedule (webhooks). */
  webhookRetried: 'WebhookRetried',
  /** A webhook went to the webhooks dead-letter queue (webhooks). */
  webhookDeadLettered: 'WebhookDeadLettered',
  /** An endpoint answered 410 Gone and was disabled until `postroom webhooks enable` (webhooks). */
  webhookEndpointDisabled: 'WebhookEndpointDisabled',
} as const;

/** Durations in milliseconds, emitted with `Metrics.duration`. */
export const DURATION_METRIC = {
  /** How long the provider took to accept one mail: the transport's send call (relay). */
  sendLatency: 'SendLatency',
  /** From the job's creation (the accepted request) to the provider's acceptance (relay). */
  queueToSentLatency: 'QueueToSentLatency',
  /** How long an endpoint took to answer one webhook attempt (webhooks). */
  webhookLatency: 'WebhookLatency',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type DurationMetricName = (typeof DURATION_METRIC)[keyof typeof DURATION_METRIC];

/** Why a request was refused with a 4xx: one value per kind of refusal, `other` for anything new. */
export const REJECTION_REASONS = [
  'validation',
  'bad-request',
  'unauthorized',
  'origin',
  'captcha',
  'not-found',
  'method-not-allowed',
  'conflict',
  'too-large',
  'unsupported-media',
  'rate-limited',
  'suppressed',
  'other',
] as const;

/** The guards that drop a form submission while answering as for a success. */
export const SPAM_GUARDS = ['honeypot', 'blocked-word', 'duplicate', 'akismet'] as const;

/** Why a job was dead-lettered. */
export const FAILURE_REASONS = [
  /** The provider (or composing the mail) refused it for good: sending again cannot succeed. */
  'permanent-rejection',
  /** Every attempt up to the queue's maxReceiveCount failed for a reason that could have passed. */
  'retries-exhausted',
  /** The queue message is not a MailJob this relay can read. */
  'invalid-job',
] as const;

/** How a recipient was refused: 4xx for now (retried for that recipient alone), 5xx for good. */
export const REFUSAL_KINDS = ['transient', 'permanent'] as const;

/** What a relay session failed at. */
export const SESSION_FAILURES = ['starttls', 'auth'] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];
export type RefusalKind = (typeof REFUSAL_KINDS)[number];
export type SessionFailure = (typeof SESSION_FAILURES)[number];
export type SpamGuard = (typeof SPAM_GUARDS)[number];
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * The metrics also emitted with one more dimension, its name and its only values. The dashboard reads this
 * too, so a value added here is graphed without another change.
 */
export const METRIC_DIMENSION = {
  [METRIC.rejected]: { name: 'reason', values: REJECTION_REASONS },
  [METRIC.spamBlocked]: { name: 'guard', values: SPAM_GUARDS },
  [METRIC.failed]: { name: 'reason', values: FAILURE_REASONS },
  [METRIC.recipientRefused]: { name: 'kind', values: REFUSAL_KINDS },
  [METRIC.relaySessionFailed]: { name: 'stage', values: SESSION_FAILURES },
} as const;

type Dimensioned = typeof METRIC_DIMENSION;

/**
 * The dispatcher's outcomes, also emitted per endpoint (`endpoint` dimension, the endpoint's id). Its values
 * are not a fixed list here but the configuration's endpoint ids, which the config bounds (never a value from
 * a request): each endpoint adds at most these four metrics. docs/webhooks.md, Cost.
 */
export const WEBHOOK_OUTCOME_METRICS = [
  METRIC.webhookDelivered,
  METRIC.webhookRetried,
  METRIC.webhookDeadLettered,
  METRIC.webhookEndpointDisabled,
] as const;
export const ENDPOINT_DIMENSION = 'endpoint';
type WebhookOutcomeMetric = (typeof WEBHOOK_OUTCOME_METRICS)[number];

/**
 * Metrics emitted per provider (`provider` = the transport's id in the configuration): the values are the
 * configured transports, known at synth, so the dashboard lists them from the configuration.
 */
export const PROVIDER_METRICS = [
  METRIC.failedOver,
  METRIC.breakerOpen,
  METRIC.providerAccountError,
  METRIC.uncertainSend,
] as const;
export const PROVIDER_DIMENSION = 'provider';
type ProviderMetric = (typeof PROVIDER_METRICS)[number];

/** The dimension a metric takes, `{reason: 'captcha'}` say; `never` for a metric that has none. */
export type MetricDimension<N extends MetricName> = N extends ProviderMetric
  ? { readonly [PROVIDER_DIMENSION]: string }
  : N extends keyof Dimensioned
    ? { readonly [K in Dimensioned[N]['name']]: Dimensioned[N]['values'][number] }
    : N extends WebhookOutcomeMetric
      ? { readonly [ENDPOINT_DIMENSION]: string }
      : never;

/**
 * The metrics port: counts and durations, flushed by the adapter at the end of each invocation. A count
 * with a dimension is emitted twice: as the total under the service alone (what alarms and the existing
 * graphs read; CloudWatch does not add dimensioned series up into an undimensioned one) and per value.
 */
export interface Metrics {
  count<N extends MetricName>(name: N, value?: number, dimension?: MetricDimension<N>): void;
  /** A duration in milliseconds. */
  duration(name: DurationMetricName, ms: number): void;
}

export const noMetrics: Metrics = { count: () => {}, duration: () => {} };

/**
 * The custom metrics an alarm of the `essential` level reads, so they are emitted at every level. Each is
 * emitted only when something went wrong, so a quiet month bills nothing for them (custom metrics are billed
 * by the hour they receive data). A feature whose essential alarm reads a custom metric adds it here.
 */
export const ESSENTIAL_METRICS: ReadonlySet<MetricName> = new Set<MetricName>([
  METRIC.relaySessionFailed,
  METRIC.webhookEndpointDisabled,
  // Failover's alarms (infra/constructs/monitoring.ts, with more than one provider): a breaker opened, a
  // provider refused the account. Never silent, at any level (docs/failover.md).
  METRIC.breakerOpen,
  METRIC.providerAccountError,
]);

/**
 * The metrics port for a monitoring level (core/monitoring.ts). At `essential` only the metrics an alarm
 * reads pass, without their breakdown: nothing graphs a breakdown there, and every dimension value is a
 * metric of its own on the bill. At `full` everything passes.
 */
export function metricsAtLevel(inner: Metrics, level: MonitoringLevel): Metrics {
  if (atLevel(level, 'full')) return inner;
  return {
    count: (name, value) => {
      if (ESSENTIAL_METRICS.has(name)) inner.count(name, value);
    },
    duration: () => {},
  };
}

const REASON_BY_STATUS: Readonly<Record<number, RejectionReason>> = {
  400: 'bad-request',
  401: 'unauthorized',
  404: 'not-found',
  405: 'method-not-allowed',
  409: 'conflict',
  413: 'too-large',
  415: 'unsupported-media',
  422: 'validation',
  429: 'rate-limited',
};

// Refusals that share a status with another kind, told apart by the error class.
const REASON_BY_ERROR: Readonly<Record<string, RejectionReason>> = {
  CaptchaRejectedError: 'captcha',
  ForbiddenOriginError: 'origin',
  SuppressedRecipientsError: 'suppressed',
  ForbiddenScopeError: 'unauthorized',
  // A 422 that is not about the body: the Idempotency-Key was used with another payload (it was a 409).
  IdempotencyKeyReusedError: 'conflict',
};

/** The reason dimension of a refused request, from the HttpError that refused it. */
export function rejectionReason(error: { readonly name: string; readonly status: number }): RejectionReason {
  return REASON_BY_ERROR[error.name] ?? REASON_BY_STATUS[error.status] ?? 'other';
}
