/**
 * Message attribute names, shared by producer, relay and operators' tools. A module of its own, without the
 * SQS client, so the relay can read them without loading the client at cold start.
 */
export const ATTRIBUTE = {
  jobId: 'postroom-job-id',
  formId: 'postroom-form-id',
  reason: 'postroom-failure-reason',
  failedAt: 'postroom-failed-at',
  correlationId: 'postroom-correlation-id',
  webhookEventId: 'postroom-webhook-id',
  webhookEndpointId: 'postroom-webhook-endpoint',
} as const;
