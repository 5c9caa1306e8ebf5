import { randomUUID } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { akismetOnFirstUse, archiveOnFirstUse } from '../adapters/archive-on-first-use';
import { archiveFilesOnFirstUse, blobStoreFromEnv } from '../adapters/attachments-bucket';
import { createDynamoClient } from '../adapters/aws-clients';
import { httpCaptchaVerifier } from '../adapters/captcha-verifier';
import { DynamoApiKeyStore } from '../adapters/dynamodb-api-keys';
import { DynamoGuardStore } from '../adapters/dynamodb-guards';
import { DynamoMessageStore } from '../adapters/dynamodb-messages';
import { DynamoScheduleStore } from '../adapters/dynamodb-schedules';
import { DynamoSuppressionList } from '../adapters/dynamodb-suppression';
import { readShippedConfig, requireEnv, shippedTemplates } from '../adapters/function-env';
import { createLogger } from '../adapters/powertools-log';
import { createMetrics } from '../adapters/powertools-metrics';
import { schedulerOnFirstUse } from '../adapters/scheduler-on-first-use';
import { readSecretString } from '../adapters/secrets';
import { createSqsClient } from '../adapters/sqs-client';
import { SqsMailQueue } from '../adapters/sqs-queue';
import { webhookQueueOnFirstUse } from '../adapters/webhook-queue';
import { SERVICE } from '../core/metrics';
import { systemClock } from '../core/ports';
import { createSendHandler } from './app';

// Cold start: read the configuration validated at synth, and create clients once.
const config = readShippedConfig(import.meta.url);
const { logger, log } = createLogger(SERVICE.send);
const { metrics, port } = createMetrics(SERVICE.send, config.monitoring.level);
// Captcha secret keys, read once from Secrets Manager for the forms that have a captcha.
const captchaSecrets = new Map(
  await Promise.all(
    config.forms.flatMap((form) =>
      form.captcha
        ? [readSecretString(config.region, form.captcha.secret).then((value) => [form.id, value] as const)]
        : [],
    ),
  ),
);
const dynamodb = createDynamoClient({ region: config.region });
const tableName = requireEnv(process.env, 'TABLE_NAME');
const sqs = createSqsClient({ region: config.region });
const queue = new SqsMailQueue(sqs, requireEnv(process.env, 'MAIL_QUEUE_URL'));
// Set by the webhooks construct when the config has endpoints; the queue's code loads with the first event.
const webhookQueueUrl = process.env.WEBHOOK_QUEUE_URL;

// The submission archive (infra/constructs/archive.ts), for forms with `archive`: set when one has it. The
// erasure index's key is read from Secrets Manager by the first submission archived, not at cold start.
const archiveTable = process.env.ARCHIVE_TABLE;
const archiveBucket = process.env.ATTACHMENTS_BUCKET;
let hashKey: Promise<string> | undefined;
const archive = archiveTable
  ? {
      store: archiveOnFirstUse(dynamodb, archiveTable),
      files: archiveBucket
        ? archiveFilesOnFirstUse(config.region, archiveBucket, config.archive?.kmsKeyArn)
        : undefined,
      hashKey: () => {
        hashKey ??= readSecretString(config.region, requireEnv(process.env, 'ARCHIVE_HASH_KEY_SECRET'));
        hashKey.catch(() => {
          hashKey = undefined;
        });
        return hashKey;
      },
    }
  : undefined;
// Akismet's key, read by the first check of a form that has `akismet`.
let akismetKey: Promise<string | undefined> | undefined;
const akismetSecret = config.akismet?.secret;
const akismet = akismetSecret
  ? {
      client: akismetOnFirstUse(),
      key: () => {
        akismetKey ??= readSecretString(config.region, akismetSecret).catch(() => {
          akismetKey = undefined;
          return undefined;
        });
        return akismetKey;
      },
    }
  : undefined;

// Scheduled send (infra/constructs/scheduling.ts): the Scheduler SDK loads when a mail is first scheduled
// more than 15 minutes ahead, or canceled, not at cold start.
const scheduling = {
  schedules: new DynamoScheduleStore(dynamodb, tableName, config.relay.recordTtlDays),
  scheduler: schedulerOnFirstUse(() => ({
    region: config.region,
    groupName: requireEnv(process.env, 'SCHEDULE_GROUP'),
    queueArn: requireEnv(process.env, 'MAIL_QUEUE_ARN'),
    roleArn: requireEnv(process.env, 'SCHEDULER_ROLE_ARN'),
    deadLetterQueueArn: requireEnv(process.env, 'SCHEDULE_DLQ_ARN'),
  })),
};

export const handler = createSendHandler({
  config,
  queue,
  clock: systemClock,
  newId: randomUUID,
  log,
  metrics: port,
  captcha: { verifier: httpCaptchaVerifier, secret: (formId) => captchaSecrets.get(formId) },
  blobs: blobStoreFromEnv(process.env, config.region),
  guards: new DynamoGuardStore(dynamodb, tableName),
  apiKeys: new DynamoApiKeyStore(dynamodb, tableName),
  messages: new DynamoMessageStore(dynamodb, tableName, config.relay.recordTtlDays),
  suppression: new DynamoSuppressionList(dynamodb, tableName),
  templates: shippedTemplates(import.meta.url),
  ...(webhookQueueUrl ? { webhookQueue: webhookQueueOnFirstUse(() => sqs, webhookQueueUrl) } : {}),
  scheduling,
  ...(archive ? { archive, archiveReader: archive.store } : {}),
  ...(akismet ? { akismet } : {}),
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
