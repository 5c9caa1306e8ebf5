import { randomUUID } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createSqsClient } from '../adapters/aws-clients';
import { configFromEnv, requireEnv } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { SqsMailQueue } from '../adapters/sqs-queue';
import { systemClock } from '../core/ports';
import { createSendHandler } from './app';

// Cold start: validate config and create clients once; a bad config fails here, naming the field.
const config = configFromEnv(process.env);
const { logger, log } = createLogger('postroom-send');
const queue = new SqsMailQueue(
  createSqsClient({ region: config.region }),
  requireEnv(process.env, 'MAIL_QUEUE_URL'),
);

export const handler = createSendHandler({ config, queue, clock: systemClock, newId: randomUUID, log }).use(
  injectLambdaContext(logger),
);
