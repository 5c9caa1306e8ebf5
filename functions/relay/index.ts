import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDynamoClient, createSqsClient } from '../adapters/aws-clients';
import { DynamoClaimStore } from '../adapters/dynamodb-claims';
import { configFromEnv, requireEnv } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { SqsRelayQueue } from '../adapters/sqs-queue';
import { createMailTransport } from '../adapters/transport';
import { systemClock } from '../core/ports';
import { createRelayHandler } from './app';

// Cold start: validate config, create clients and the (pooled) transport once per container.
const config = configFromEnv(process.env);
const aws = { region: config.region };
const { logger, log } = createLogger('postroom-relay');

export const handler = createRelayHandler({
  config,
  transport: createMailTransport(config.transport, aws, process.env.POSTROOM_SMTP_PASSWORD),
  claims: new DynamoClaimStore(
    createDynamoClient(aws),
    requireEnv(process.env, 'TABLE_NAME'),
    config.relay.recordTtlDays,
  ),
  queue: new SqsRelayQueue(
    createSqsClient(aws),
    requireEnv(process.env, 'MAIL_QUEUE_URL'),
    requireEnv(process.env, 'DEAD_LETTER_QUEUE_URL'),
  ),
  clock: systemClock,
  log,
  random: Math.random,
}).use(injectLambdaContext(logger));
