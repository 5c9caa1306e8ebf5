import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { createDynamoClient } from '../adapters/aws-clients';
import { DynamoMessageStore } from '../adapters/dynamodb-messages';
import { DynamoSuppressionList } from '../adapters/dynamodb-suppression';
import { readShippedConfig, requireEnv } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { createMetrics } from '../adapters/powertools-metrics';
import { SERVICE } from '../core/metrics';
import { createEventsHandler } from './app';

// Cold start: read the configuration validated at synth, and create the client once per container.
const config = readShippedConfig(import.meta.url);
const { logger, log } = createLogger(SERVICE.events);
const { metrics, port } = createMetrics(SERVICE.events);
const dynamodb = createDynamoClient({ region: config.region });
const tableName = requireEnv(process.env, 'TABLE_NAME');

export const handler = createEventsHandler({
  messages: new DynamoMessageStore(dynamodb, tableName, config.relay.recordTtlDays),
  suppression: new DynamoSuppressionList(dynamodb, tableName),
  log,
  metrics: port,
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
