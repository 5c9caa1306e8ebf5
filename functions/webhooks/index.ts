import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { createDynamoClient } from '../adapters/aws-clients';
import { DynamoWebhookStore } from '../adapters/dynamodb-webhooks';
import { readShippedConfig, requireEnv } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { createMetrics } from '../adapters/powertools-metrics';
import { readSecretString } from '../adapters/secrets';
import { createSqsClient } from '../adapters/sqs-client';
import { SqsWebhookDispatchQueue } from '../adapters/sqs-webhook-queue';
import { HttpWebhookSender } from '../adapters/webhook-sender';
import { SERVICE } from '../core/metrics';
import { systemClock } from '../core/ports';
import { createWebhooksHandler } from './app';

// Cold start: the configuration validated at synth, every endpoint's signing secret from Secrets Manager
// (read once per container: a rotation takes effect with the next cold start), clients created once.
const config = readShippedConfig(import.meta.url);
const { logger, log } = createLogger(SERVICE.webhooks);
const { metrics, port } = createMetrics(SERVICE.webhooks, config.monitoring.level);
const secrets = new Map(
  await Promise.all(
    config.webhooks.map((endpoint) =>
      readSecretString(config.region, endpoint.secret).then((value) => [endpoint.id, value.trim()] as const),
    ),
  ),
);
const sqs = createSqsClient({ region: config.region });

export const handler = createWebhooksHandler({
  config,
  // On AWS the dispatcher never reaches private, loopback, link-local or metadata addresses. The local stack,
  // running this bundle against receivers on 127.0.0.1 (local/bundled-functions.ts), says so with this
  // variable, as its in-process dispatcher does with guardAddresses: false; the stack never sets it
  // (test/infra/webhooks.test.ts).
  sender: new HttpWebhookSender({ guardAddresses: process.env.POSTROOM_LOCAL_WEBHOOKS !== 'loopback' }),
  store: new DynamoWebhookStore(
    createDynamoClient({ region: config.region }),
    requireEnv(process.env, 'TABLE_NAME'),
  ),
  queue: new SqsWebhookDispatchQueue(
    sqs,
    requireEnv(process.env, 'WEBHOOK_QUEUE_URL'),
    requireEnv(process.env, 'WEBHOOK_DEAD_LETTER_QUEUE_URL'),
  ),
  secret: (endpointId) => secrets.get(endpointId),
  clock: systemClock,
  log,
  metrics: port,
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
