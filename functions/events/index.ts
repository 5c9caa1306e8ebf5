import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { createDynamoClient } from '../adapters/aws-clients';
import { DynamoMessageStore } from '../adapters/dynamodb-messages';
import { DynamoSuppressionList } from '../adapters/dynamodb-suppression';
import { readShippedConfig, requireEnv } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { createMetrics } from '../adapters/powertools-metrics';
import { webhookQueueOnFirstUse } from '../adapters/webhook-queue';
import { SERVICE } from '../core/metrics';
import { createEventsHandler } from './app';

// Cold start: read the configuration validated at synth, and create the client once per container.
const config = readShippedConfig(import.meta.url);
const { logger, log } = createLogger(SERVICE.events);
const { metrics, port } = createMetrics(SERVICE.events, config.monitoring.level);
const dynamodb = createDynamoClient({ region: config.region });
const tableName = requireEnv(process.env, 'TABLE_NAME');

// Set by the webhooks construct when the config has endpoints; the client loads with the first event.
const webhookQueueUrl = process.env.WEBHOOK_QUEUE_URL;

export const handler = createEventsHandler({
  messages: new DynamoMessageStore(dynamodb, tableName, config.relay.recordTtlDays),
  suppression: new DynamoSuppressionList(dynamodb, tableName),
  log,
  metrics: port,
  ...(webhookQueueUrl
    ? {
        webhooks: {
          config,
          queue: webhookQueueOnFirstUse(
            () =>
              import('../adapters/sqs-client').then(({ createSqsClient }) =>
                createSqsClient({ region: config.region }),
              ),
            webhookQueueUrl,
          ),
        },
      }
    : {}),
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
