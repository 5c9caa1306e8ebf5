import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoWebhookStore } from '../functions/adapters/dynamodb-webhooks';
import { SqsWebhookDispatchQueue } from '../functions/adapters/sqs-webhook-queue';
import { HttpWebhookSender } from '../functions/adapters/webhook-sender';
import type { PostroomConfig } from '../functions/core/config/config';
import { webhookSecretVariable } from '../functions/core/config/webhook-config';
import { ConfigError } from '../functions/core/errors';
import type { Metrics } from '../functions/core/metrics';
import type { Clock, Log } from '../functions/core/ports';
import type { DispatchDeps, WebhookSender } from '../functions/core/webhooks/dispatch';
import { createWebhooksHandler } from '../functions/webhooks/app';
import { startEventSource } from './event-source';
import { localContext } from './lambda-context';

export const LOCAL_WEBHOOK_NAMES = {
  queue: 'postroom-webhooks',
  deadLetterQueue: 'postroom-webhooks-dlq',
} as const;

/** The dispatcher's timeout, as on AWS (infra/constructs/webhooks.ts): a batch of attempts of at most 15 s. */
export const DISPATCHER_TIMEOUT_SECONDS = 60;

export interface WebhookResources {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/**
 * The webhook queue and its dead-letter queue, as the webhooks construct makes them: retention 14 days; the
 * redrive policy a backstop for a dispatcher that dies mid-attempt (the dispatcher itself dead-letters after
 * the schedule's attempts, with the reason).
 */
export async function createWebhookResources(sqs: SQSClient): Promise<WebhookResources> {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_WEBHOOK_NAMES.deadLetterQueue,
      Attributes: { MessageRetentionPeriod: String(14 * 86_400) },
    }),
  );
  const deadLetterQueueUrl = dlq.QueueUrl ?? '';
  const arn = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_WEBHOOK_NAMES.queue,
      Attributes: {
        MessageRetentionPeriod: String(14 * 86_400),
        VisibilityTimeout: String(6 * DISPATCHER_TIMEOUT_SECONDS),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: arn.Attributes?.QueueArn ?? '',
          maxReceiveCount: 12,
        }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl ?? '', deadLetterQueueUrl };
}

/** Signing secrets by endpoint id from POSTROOM_WEBHOOK_SECRET_<ID>; each must be there. */
export function webhookSecretsFromEnv(
  config: PostroomConfig,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const secrets: Record<string, string> = {};
  const problems: Array<{ field: string; message: string }> = [];
  for (const endpoint of config.webhooks) {
    const name = webhookSecretVariable(endpoint.id);
    const value = env[name]?.trim();
    if (value === undefined || value === '') {
      problems.push({ field: `env.${name}`, message: `is required: webhook "${endpoint.id}" signs with it` });
    } else if (!value.split(/\s+/).every((secret) => /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret))) {
      problems.push({
        field: `env.${name}`,
        message: 'must be whsec_<base64> (two, space-separated, while rotating)',
      });
    } else secrets[endpoint.id] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return secrets;
}

export interface LocalDispatcherOptions {
  readonly config: PostroomConfig;
  readonly sqs: SQSClient;
  readonly store: DynamoWebhookStore;
  readonly resources: WebhookResources;
  readonly secrets: Readonly<Record<string, string>>;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: Metrics;
  /** Replaces the HTTP sender. @default loopback allowed (no SSRF guard): the local stack posts to 127.0.0.1 */
  readonly sender?: WebhookSender;
  /** Replaces the retry schedule (tests shorten it). */
  readonly schedule?: DispatchDeps['schedule'];
  /** Hides received messages this long instead of the queue's timeout (a killed dispatcher's come back sooner). */
  readonly visibilityTimeoutSeconds?: number;
}

/** The real dispatcher handler fed by the local event source mapping, as Lambda's SQS trigger feeds it on AWS. */
export async function startLocalDispatcher(
  options: LocalDispatcherOptions,
): Promise<{ stop(): Promise<void> }> {
  const { config, sqs, resources } = options;
  const handler = createWebhooksHandler({
    config,
    sender: options.sender ?? new HttpWebhookSender({ guardAddresses: false }),
    store: options.store,
    queue: new SqsWebhookDispatchQueue(sqs, resources.queueUrl, resources.deadLetterQueueUrl),
    secret: (endpointId) => options.secrets[endpointId],
    clock: options.clock,
    log: options.log,
    metrics: options.metrics,
    ...(options.schedule ? { schedule: options.schedule } : {}),
  });
  const arn = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: resources.queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return startEventSource({
    sqs,
    queueUrl: resources.queueUrl,
    queueArn: arn.Attributes?.QueueArn ?? '',
    region: config.region,
    batchSize: 10,
    concurrency: 2,
    handler: (event, context) => handler(event, context),
    context: () => localContext('postroom-webhooks', DISPATCHER_TIMEOUT_SECONDS),
    log: options.log,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
  });
}
