/**
 * The custom metrics Postroom emits, in CloudWatch embedded metric format. One definition, used by the
 * functions that emit them and by the dashboard and alarms that read them, so the names cannot drift.
 * Each function emits under its service name as the only dimension: low cardinality, cheap to store.
 */
export const METRIC_NAMESPACE = 'Postroom';

export const SERVICE = {
  send: 'postroom-send',
  relay: 'postroom-relay',
  events: 'postroom-events',
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
  /** A job that was sent before was delivered again and dropped (relay). */
  duplicate: 'DuplicateDropped',
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
} as const;

/** Durations in milliseconds, emitted with `Metrics.duration`. */
export const DURATION_METRIC = {
  /** How long the provider took to accept one mail: the transport's send call (relay). */
  sendLatency: 'SendLatency',
  /** From the job's creation (the accepted request) to the provider's acceptance (relay). */
  queueToSentLatency: 'QueueToSentLatency',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type DurationMetricName = (typeof DURATION_METRIC)[keyof typeof DURATION_METRIC];

/** The metrics port: counts and durations, flushed by the adapter at the end of each invocation. */
export interface Metrics {
  count(name: MetricName, value?: number): void;
  /** A duration in milliseconds. */
  duration(name: DurationMetricName, ms: number): void;
}

export const noMetrics: Metrics = { count: () => {}, duration: () => {} };
