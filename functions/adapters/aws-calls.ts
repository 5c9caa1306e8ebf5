import { ARCHIVE_KEY, ARCHIVE_READ_PREFIXES, ARCHIVE_WRITE_PREFIXES } from '../core/archive/archive-keys';
import { KEY_PREFIX } from '../core/table-keys';

/**
 * Every AWS call each function makes at run time, with its IAM action and the resource it touches: the
 * reference the IAM simulation test (test/infra/iam-simulation.test.ts) checks the synthesized stack's
 * policies against. test/unit/aws-calls.test.ts scans the functions' sources for SDK commands and fails
 * when one is made at a site this file does not list, so the list cannot fall behind the code.
 * Not imported by any function: it is a record of what they do, kept beside the adapters that do it.
 */

/** A resource of the stack, as the infra test finds it in the synthesized template. */
export type AwsResource =
  /** The record table; `keyPrefixes` says which items (dynamodb:LeadingKeys). */
  | 'recordTable'
  | 'mailQueue'
  | 'deadLetterQueue'
  /** An object under `attachments/` in the claim-check bucket. */
  | 'attachmentObject'
  /** The claim-check bucket itself (s3:ListBucket). */
  | 'attachmentsBucket'
  /** The SES identity of the sender: its address, its domain, or `transport.domainIdentity`. */
  | 'sesSenderIdentity'
  | 'sesConfigurationSet'
  /** `transport.passwordSecret`. */
  | 'smtpPasswordSecret'
  /** A form's `captcha.secret`. */
  | 'captchaSecret'
  /** The webhook queue (its producers send, the dispatcher consumes) and its dead-letter queue. */
  | 'webhookQueue'
  | 'webhookDeadLetterQueue'
  /** A webhook endpoint's `secret`. */
  | 'webhookSecret'
  /** The function's own log group. */
  | 'ownLogGroup'
  /** A one-time schedule in the stack's schedule group (infra/constructs/scheduling.ts). */
  | 'scheduleInGroup'
  /** The role the stack's schedules run as (iam:PassRole, to EventBridge Scheduler only). */
  | 'schedulerRole'
  /** The submission archive's table (infra/constructs/archive.ts); `keyPrefixes` says which items. */
  | 'archiveTable'
  /** An object under `archive/` in the attachments bucket. */
  | 'archiveObject'
  /** The HMAC key of the archive's erasure index, a secret the stack generates. */
  | 'archiveHashKeySecret'
  /** `akismet.secret`. */
  | 'akismetSecret'
  /** `archive.kmsKeyArn`, the customer-managed key of the archive's table and files. */
  | 'archiveKey'
  /** Actions without resource-level permissions (X-Ray). */
  | 'anyResource';

/**
 * The configuration under which a function makes a call; absent: always. `traced`: the function traces
 * (infra/constructs/mail-function.ts tracingOf: the send function whenever `monitoring.traceSamplePercent` is
 * above 0, the others at `monitoring.level: full` only).
 */
export type CallCondition =
  | 'sesTransport'
  | 'smtpPassword'
  | 'captcha'
  | 'webhooks'
  | 'archive'
  | 'akismet'
  | 'archiveKey'
  | 'failover'
  | 'traced';

export interface AwsCall {
  /**
   * Where the code makes it: `Class.method` or the module-level function, as the source scan finds the
   * enclosing declaration of `new <Command>(`. For calls the Lambda service makes with the function's role
   * (logs, traces, the queue poller), a description starting with `Lambda:`.
   */
  readonly site: string;
  /** The SDK command class; absent for the Lambda service's own calls. */
  readonly command?: string;
  /** The IAM action the call is authorized as. */
  readonly action: string;
  readonly resource: AwsResource;
  /** For the record table: the partition key prefixes the call's items have (functions/core/table-keys.ts). */
  readonly keyPrefixes?: ReadonlyArray<string>;
  /** Condition keys the request carries besides the table's leading keys. */
  readonly context?: Readonly<Record<string, string | string[]>>;
  readonly when?: CallCondition;
}

export type FunctionName = 'send' | 'relay' | 'events' | 'webhooks';

/** What the Lambda service does with every function's role: write its logs, send its traces. */
const PLATFORM_CALLS: ReadonlyArray<AwsCall> = [
  { site: 'Lambda: function logs', action: 'logs:CreateLogStream', resource: 'ownLogGroup' },
  { site: 'Lambda: function logs', action: 'logs:PutLogEvents', resource: 'ownLogGroup' },
  { site: 'Lambda: tracing', action: 'xray:PutTraceSegments', resource: 'anyResource', when: 'traced' },
  { site: 'Lambda: tracing', action: 'xray:PutTelemetryRecords', resource: 'anyResource', when: 'traced' },
];

const guards = [KEY_PREFIX.dup, KEY_PREFIX.captcha, KEY_PREFIX.idem];

/** A producer's one webhook call: it enqueues events, when the config has endpoints (core/webhooks/publish.ts). */
const PUBLISH_WEBHOOKS: AwsCall = {
  site: 'SqsWebhookQueue.enqueue',
  command: 'SendMessageBatchCommand',
  action: 'sqs:SendMessage',
  resource: 'webhookQueue',
  when: 'webhooks',
};

export const FUNCTION_CALLS: Readonly<Record<FunctionName, ReadonlyArray<AwsCall>>> = {
  send: [
    ...PLATFORM_CALLS,
    // Rate-limit and autoresponse counters (core/forms/guards.ts, failed API authentications in core/api/api-keys.ts).
    {
      site: 'DynamoGuardStore.increment',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.rate, KEY_PREFIX.auto],
    },
    // Duplicate fingerprints, used captcha tokens, Idempotency-Key records: a conditional put, then a read.
    {
      site: 'DynamoGuardStore.remember',
      command: 'PutItemCommand',
      action: 'dynamodb:PutItem',
      resource: 'recordTable',
      keyPrefixes: guards,
    },
    {
      site: 'DynamoGuardStore.remember',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: guards,
    },
    // A fingerprint or Idempotency-Key record is forgotten when the job could not be queued.
    {
      site: 'DynamoGuardStore.forget',
      command: 'DeleteItemCommand',
      action: 'dynamodb:DeleteItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.dup, KEY_PREFIX.idem],
    },
    {
      site: 'DynamoApiKeyStore.findByHash',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.apikey],
    },
    {
      site: 'DynamoSuppressionList.has',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.supp],
    },
    {
      site: 'DynamoMessageStore.update',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    {
      site: 'DynamoMessageStore.get',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    {
      site: 'SqsMailQueue.enqueue',
      command: 'SendMessageCommand',
      action: 'sqs:SendMessage',
      resource: 'mailQueue',
    },
    {
      site: 'SqsMailQueue.ping',
      command: 'GetQueueAttributesCommand',
      action: 'sqs:GetQueueAttributes',
      resource: 'mailQueue',
    },
    {
      site: 'S3BlobStore.put',
      command: 'PutObjectCommand',
      action: 's3:PutObject',
      resource: 'attachmentObject',
    },
    // The submission archive (core/archive), for forms with `archive`: it adds submissions and files, and
    // reads a form's list for GET /v1/forms/{formId}/submissions. Never deletes or changes them.
    {
      site: 'DynamoSubmissionArchive.putItem',
      command: 'PutItemCommand',
      action: 'dynamodb:PutItem',
      resource: 'archiveTable',
      keyPrefixes: ARCHIVE_WRITE_PREFIXES,
      when: 'archive',
    },
    {
      site: 'DynamoSubmissionArchive.listFolder',
      command: 'QueryCommand',
      action: 'dynamodb:Query',
      resource: 'archiveTable',
      keyPrefixes: [ARCHIVE_KEY.submission],
      when: 'archive',
    },
    {
      site: 'DynamoSubmissionArchive.getAny',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'archiveTable',
      keyPrefixes: ARCHIVE_READ_PREFIXES,
      when: 'archive',
    },
    {
      site: 'S3ArchiveFiles.put',
      command: 'PutObjectCommand',
      action: 's3:PutObject',
      resource: 'archiveObject',
      when: 'archive',
    },
    {
      site: 'readSecretString',
      command: 'GetSecretValueCommand',
      action: 'secretsmanager:GetSecretValue',
      resource: 'archiveHashKeySecret',
      when: 'archive',
    },
    {
      site: 'readSecretString',
      command: 'GetSecretValueCommand',
      action: 'secretsmanager:GetSecretValue',
      resource: 'akismetSecret',
      when: 'akismet',
    },
    // With a customer-managed key, DynamoDB and S3 use it with the caller's permissions on each write and read.
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
    {
      site: 'DynamoDB, S3: customer-managed key',
      action: 'kms:GenerateDataKey',
      resource: 'archiveKey',
      when: 'archiveKey',
    },
    {
      site: 'DynamoDB, S3: customer-managed key',
      action: 'kms:Decrypt',
      resource: 'archiveKey',
      when: 'archiveKey',
    },
    // Scheduled send (core/scheduling): the scheduled message's record, its conditional transitions.
    {
      site: 'DynamoScheduleStore.update',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    {
      site: 'DynamoScheduleStore.item',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    // One-time schedules beyond 15 minutes, which run as the scheduler role (passed to the service).
    {
      site: 'EventBridgeScheduler.createSchedule',
      command: 'CreateScheduleCommand',
      action: 'scheduler:CreateSchedule',
      resource: 'scheduleInGroup',
    },
    {
      site: 'EventBridgeScheduler.createSchedule',
      command: 'CreateScheduleCommand',
      action: 'iam:PassRole',
      resource: 'schedulerRole',
      context: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    },
    {
      site: 'EventBridgeScheduler.deleteSchedule',
      command: 'DeleteScheduleCommand',
      action: 'scheduler:DeleteSchedule',
      resource: 'scheduleInGroup',
    },
    {
      site: 'readSecretString',
      command: 'GetSecretValueCommand',
      action: 'secretsmanager:GetSecretValue',
      resource: 'captchaSecret',
      when: 'captcha',
    },
    PUBLISH_WEBHOOKS,
  ],
  relay: [
    ...PLATFORM_CALLS,
    // The event source mapping polls the queue with the function's role and deletes what the relay reports done.
    // https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions
    { site: 'Lambda: SQS event source', action: 'sqs:ReceiveMessage', resource: 'mailQueue' },
    { site: 'Lambda: SQS event source', action: 'sqs:DeleteMessage', resource: 'mailQueue' },
    { site: 'Lambda: SQS event source', action: 'sqs:GetQueueAttributes', resource: 'mailQueue' },
    {
      site: 'DynamoClaimStore.claim',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.job],
    },
    {
      site: 'DynamoClaimStore.claim',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.job],
    },
    {
      site: 'DynamoClaimStore.update',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.job],
    },
    {
      site: 'DynamoMessageStore.update',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    // A scheduled job starts with a conditional write on its message (core/scheduling/schedule-store.ts).
    {
      site: 'DynamoScheduleStore.update',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    {
      site: 'DynamoScheduleStore.item',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    {
      site: 'SqsRelayQueue.retryLater',
      command: 'ChangeMessageVisibilityCommand',
      action: 'sqs:ChangeMessageVisibility',
      resource: 'mailQueue',
    },
    {
      site: 'SqsRelayQueue.deadLetter',
      command: 'SendMessageCommand',
      action: 'sqs:SendMessage',
      resource: 'deadLetterQueue',
    },
    // SES authorizes a send against the sender's identity and against the configuration set used.
    // https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html
    {
      site: 'SesTransport.send',
      command: 'SendEmailCommand',
      action: 'ses:SendEmail',
      resource: 'sesSenderIdentity',
      when: 'sesTransport',
    },
    {
      site: 'SesTransport.send',
      command: 'SendEmailCommand',
      action: 'ses:SendEmail',
      resource: 'sesConfigurationSet',
      when: 'sesTransport',
    },
    {
      site: 'S3BlobStore.get',
      command: 'GetObjectCommand',
      action: 's3:GetObject',
      resource: 'attachmentObject',
    },
    // S3 answers a missing key with 404 (permanent) rather than 403 (retried) only to a caller with ListBucket.
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
    {
      site: 'S3BlobStore.get',
      command: 'GetObjectCommand',
      action: 's3:ListBucket',
      resource: 'attachmentsBucket',
      context: { 's3:prefix': 'attachments/' },
    },
    {
      site: 'readSecretString',
      command: 'GetSecretValueCommand',
      action: 'secretsmanager:GetSecretValue',
      resource: 'smtpPasswordSecret',
      when: 'smtpPassword',
    },
    // The providers' shared circuit breakers (core/failover), with more than one transport.
    {
      site: 'DynamoBreakerStore.read',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.brk],
      when: 'failover',
    },
    {
      site: 'DynamoBreakerStore.count',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.brk],
      when: 'failover',
    },
    {
      site: 'DynamoBreakerStore.change',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.brk],
      when: 'failover',
    },
    PUBLISH_WEBHOOKS,
  ],
  events: [
    ...PLATFORM_CALLS,
    {
      site: 'DynamoMessageStore.update',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.msg],
    },
    {
      site: 'DynamoSuppressionList.add',
      command: 'PutItemCommand',
      action: 'dynamodb:PutItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.supp],
    },
    PUBLISH_WEBHOOKS,
  ],
  webhooks: [
    ...PLATFORM_CALLS,
    { site: 'Lambda: SQS event source', action: 'sqs:ReceiveMessage', resource: 'webhookQueue' },
    { site: 'Lambda: SQS event source', action: 'sqs:DeleteMessage', resource: 'webhookQueue' },
    { site: 'Lambda: SQS event source', action: 'sqs:GetQueueAttributes', resource: 'webhookQueue' },
    {
      site: 'DynamoWebhookStore.recordAttempt',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.whevt],
    },
    {
      site: 'DynamoWebhookStore.endpointState',
      command: 'GetItemCommand',
      action: 'dynamodb:GetItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.whep],
    },
    {
      site: 'DynamoWebhookStore.recordResult',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.whep],
    },
    // disable (on 410); the CLI's enable goes through the same method.
    {
      site: 'DynamoWebhookStore.setDisabled',
      command: 'UpdateItemCommand',
      action: 'dynamodb:UpdateItem',
      resource: 'recordTable',
      keyPrefixes: [KEY_PREFIX.whep],
    },
    {
      site: 'SqsWebhookDispatchQueue.retryLater',
      command: 'ChangeMessageVisibilityCommand',
      action: 'sqs:ChangeMessageVisibility',
      resource: 'webhookQueue',
    },
    {
      site: 'SqsWebhookDispatchQueue.deadLetter',
      command: 'SendMessageCommand',
      action: 'sqs:SendMessage',
      resource: 'webhookDeadLetterQueue',
    },
    {
      site: 'readSecretString',
      command: 'GetSecretValueCommand',
      action: 'secretsmanager:GetSecretValue',
      resource: 'webhookSecret',
    },
  ],
};

/**
 * SDK calls in the adapters that no function makes: the operator CLI's (`postroom keys`, `postroom
 * suppression`), run with the operator's own credentials. The functions reach these adapters only through
 * the read-only ports (ApiKeyStore, SuppressionList), which do not have these methods.
 */
export const OPERATOR_CALLS: ReadonlyArray<Pick<AwsCall, 'site' | 'command' | 'action'>> = [
  { site: 'DynamoApiKeyStore.create', command: 'PutItemCommand', action: 'dynamodb:PutItem' },
  { site: 'DynamoApiKeyStore.list', command: 'ScanCommand', action: 'dynamodb:Scan' },
  { site: 'DynamoApiKeyStore.revokeHash', command: 'UpdateItemCommand', action: 'dynamodb:UpdateItem' },
  { site: 'DynamoSuppressionList.list', command: 'ScanCommand', action: 'dynamodb:Scan' },
  { site: 'DynamoSuppressionList.remove', command: 'DeleteItemCommand', action: 'dynamodb:DeleteItem' },
  { site: 'DynamoWebhookStore.event', command: 'GetItemCommand', action: 'dynamodb:GetItem' },
  { site: 'DynamoWebhookStore.eventsSince', command: 'ScanCommand', action: 'dynamodb:Scan' },
  { site: 'DynamoScheduleStore.listScheduled', command: 'ScanCommand', action: 'dynamodb:Scan' },
  // `postroom submissions` (ArchiveOperatorPolicy): erasure, release, export of files.
  { site: 'DynamoSubmissionArchive.idsByEmailKey', command: 'QueryCommand', action: 'dynamodb:Query' },
  { site: 'DynamoSubmissionArchive.erase', command: 'DeleteItemCommand', action: 'dynamodb:DeleteItem' },
  {
    site: 'DynamoSubmissionArchive.removeFromFolder',
    command: 'DeleteItemCommand',
    action: 'dynamodb:DeleteItem',
  },
  {
    site: 'DynamoSubmissionArchive.claimNotification',
    command: 'UpdateItemCommand',
    action: 'dynamodb:UpdateItem',
  },
  { site: 'DynamoSubmissionArchive.tombstones', command: 'QueryCommand', action: 'dynamodb:Query' },
  { site: 'S3ArchiveFiles.fetchArchived', command: 'GetObjectCommand', action: 's3:GetObject' },
  { site: 'S3ArchiveFiles.removeArchived', command: 'DeleteObjectCommand', action: 's3:DeleteObject' },
];
