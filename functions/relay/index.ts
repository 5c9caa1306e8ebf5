import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { blobStoreFromEnv } from '../adapters/attachments-bucket';
import { createDynamoClient } from '../adapters/aws-clients';
import { DynamoBreakerStore } from '../adapters/dynamodb-breakers';
import { DynamoClaimStore } from '../adapters/dynamodb-claims';
import { DynamoMessageStore } from '../adapters/dynamodb-messages';
import { DynamoScheduleStore } from '../adapters/dynamodb-schedules';
import { readShippedConfig, requireEnv } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { createMetrics } from '../adapters/powertools-metrics';
import { relayQueueOnFirstUse } from '../adapters/relay-queue';
import { readSecretString } from '../adapters/secrets';
import { createProviders, smtpSecretVariable } from '../adapters/transport';
import { webhookQueueOnFirstUse } from '../adapters/webhook-queue';
import { ProviderBreakers } from '../core/failover/breaker';
import { SERVICE } from '../core/metrics';
import { systemClock } from '../core/ports';
import { pacerForRate } from '../core/relay/send-pacer';
import { createRelayHandler } from './app';

// Cold start: read the configuration validated at synth, read the SMTP password from Secrets Manager when
// there is one, and create clients and the (pooled) transport once per container.
const config = readShippedConfig(import.meta.url);
const aws = { region: config.region };
const { logger, log } = createLogger(SERVICE.relay);
const { metrics, port } = createMetrics(SERVICE.relay, config.monitoring.level);
const dynamodb = createDynamoClient(aws);
const tableName = requireEnv(process.env, 'TABLE_NAME');
// One secret per SMTP relay (SMTP_PASSWORD_SECRET_ARN, SMTP_PASSWORD_SECRET_ARN_<ID> for the others), read in
// parallel.
const smtpPasswords = new Map(
  await Promise.all(
    config.transports.map(async (transport) => {
      const secretId = process.env[smtpSecretVariable('SMTP_PASSWORD_SECRET_ARN', transport.id)];
      const password = secretId ? await readSecretString(config.region, secretId) : undefined;
      return [transport.id, password] as const;
    }),
  ),
);
// Lambda runs at most queue.maxConcurrency relay invocations for the queue, so each paces at its share of
// the stack's rate. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
const maxSendRate = config.relay.maxSendRate;
const pacer = pacerForRate(
  maxSendRate === undefined ? undefined : maxSendRate / config.queue.maxConcurrency,
  systemClock,
);

// Set by the webhooks construct when the config has endpoints; the client loads with the first event.
const webhookQueueUrl = process.env.WEBHOOK_QUEUE_URL;
// One client, made on first use, shared by the retry/dead-letter queue and the webhook queue.
let sqs: Promise<SQSClient> | undefined;
const sqsClient = () =>
  (sqs ??= import('../adapters/sqs-client').then(({ createSqsClient }) => createSqsClient(aws)));

export const handler = createRelayHandler({
  config,
  providers: createProviders(config.transports, aws, {
    smtpPassword: (id) => smtpPasswords.get(id),
    sesConfigurationSet: process.env.SES_CONFIGURATION_SET,
  }),
  // With one provider there is nothing to fail over to: no breaker, no table calls for it.
  ...(config.transports.length > 1
    ? {
        breakers: new ProviderBreakers(
          new DynamoBreakerStore(dynamodb, tableName),
          config.breaker,
          systemClock,
          config.relay.timeoutSeconds * 1000,
        ),
      }
    : {}),
  claims: new DynamoClaimStore(dynamodb, tableName, config.relay.recordTtlDays),
  messages: new DynamoMessageStore(dynamodb, tableName, config.relay.recordTtlDays),
  schedules: new DynamoScheduleStore(dynamodb, tableName, config.relay.recordTtlDays),
  queue: relayQueueOnFirstUse(sqsClient, {
    queueUrl: requireEnv(process.env, 'MAIL_QUEUE_URL'),
    deadLetterQueueUrl: requireEnv(process.env, 'DEAD_LETTER_QUEUE_URL'),
  }),
  clock: systemClock,
  log,
  metrics: port,
  random: Math.random,
  blobs: blobStoreFromEnv(process.env, config.region),
  pacer,
  ...(webhookQueueUrl ? { webhookQueue: webhookQueueOnFirstUse(sqsClient, webhookQueueUrl) } : {}),
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
