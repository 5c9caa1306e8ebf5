import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ILogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config/config';
import { KEY_PREFIX, RELAY_KEY_PREFIXES } from '../../functions/core/table-keys';
import type { Attachments } from './attachments';
import { MailFunction } from './mail-function';
import type { MailProvider } from './mail-provider';
import { grantItems } from './store';

export interface RelayProps {
  /** The validated configuration, built into the function's code package. */
  readonly config: PostroomConfig;
  readonly mailQueue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** Idempotency records: claimed before each send, completed after. */
  readonly table: ITable;
  /** The SES or SMTP resources the relay sends through. */
  readonly provider: MailProvider;
  /** Retention of the relay's log group. */
  readonly logRetention: RetentionDays;
  /**
   * The claim-check bucket, when a form accepts files.
   * @default none
   */
  readonly attachments?: Attachments;
}

/** The relay function: drains the mail queue in batches and sends each job once through SES or SMTP. */
export class Relay extends Construct {
  readonly function: IFunction;
  readonly logGroup: ILogGroup;

  constructor(scope: Construct, id: string, props: RelayProps) {
    super(scope, id);
    const { config } = props;

    const relay = new MailFunction(this, 'Relay', {
      entry: 'relay',
      description: 'Postroom relay: sends queued mail jobs through the configured transport',
      config: props.config,
      timeout: Duration.seconds(config.relay.timeoutSeconds),
      // 256 MB: a relay invocation waits on the provider (SES answers in tens of ms) far longer than it
      // computes (3.8 ms of CPU per message on the local pipeline, docs/performance.md), so half the memory
      // halves the GB-seconds billed while adding a few ms (docs/cost.md).
      memorySize: 256,
      logRetention: props.logRetention,
      environment: {
        TABLE_NAME: props.table.tableName,
        MAIL_QUEUE_URL: props.mailQueue.queueUrl,
        DEAD_LETTER_QUEUE_URL: props.deadLetterQueue.queueUrl,
        ...props.provider.relayEnvironment,
        ...(props.attachments ? { ATTACHMENTS_BUCKET: props.attachments.bucket.bucketName } : {}),
      },
    });
    this.function = relay.function;
    this.logGroup = relay.logGroup;

    // The handler reports only retryable records as failures; without ReportBatchItemFailures Lambda would
    // retry the whole batch and resend mail that went out. Maximum concurrency caps the provider send rate.
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
    relay.function.addEventSource(
      new SqsEventSource(props.mailQueue, {
        batchSize: config.queue.batchSize,
        maxConcurrency: config.queue.maxConcurrency,
        reportBatchItemFailures: true,
        // A window lets a quiet queue gather fuller batches (fewer invocations); 0 relays each job at once.
        ...(config.queue.batchingWindowSeconds > 0
          ? { maxBatchingWindow: Duration.seconds(config.queue.batchingWindowSeconds) }
          : {}),
      }),
    );
    // Receive, delete and ChangeMessageVisibility (the relay's backoff for transient failures).
    props.mailQueue.grantConsumeMessages(relay.function);
    // Permanent failures are dead-lettered by the relay itself, with their reason as a message attribute.
    props.deadLetterQueue.grantSendMessages(relay.function);
    // Exactly what DynamoClaimStore and DynamoMessageStore call: conditional UpdateItem to claim and complete,
    // GetItem to read a claim back, UpdateItem to append a message's status. Only the `job#` and `msg#`
    // items: API keys and the guards' counters are out of reach. No Scan, Query, PutItem or DeleteItem (TTL
    // deletes expired records).
    // With more than one provider, the breakers too (DynamoBreakerStore: GetItem, UpdateItem on `brk#` items).
    const prefixes =
      config.transports.length > 1
        ? RELAY_KEY_PREFIXES
        : RELAY_KEY_PREFIXES.filter((p) => p !== KEY_PREFIX.brk);
    grantItems(relay.function, props.table, ['dynamodb:UpdateItem', 'dynamodb:GetItem'], prefixes);
    props.provider.grantSend(relay.function);
    props.attachments?.grantFetch(relay.function);
  }
}
