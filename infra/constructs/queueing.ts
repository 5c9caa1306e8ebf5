import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_MAIL_JOB_BYTES } from '../../functions/core/mail/mail-job';

export interface QueueingProps {
  /** Receives before SQS moves a mail job to the dead-letter queue (`queue.maxReceiveCount`). */
  readonly maxReceiveCount: number;
  /** The relay function's timeout; the mail queue's visibility timeout is derived from it. */
  readonly relayTimeout: Duration;
}

/** The mail queue the send function fills and the relay drains, and its dead-letter queue. */
export class Queueing extends Construct {
  /**
   * AWS recommends a visibility timeout of at least six times the consumer's timeout, so a batch that is
   * retried by the Lambda service does not become visible to another poller mid-flight.
   * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-queueconfig
   */
  static readonly VISIBILITY_TIMEOUT_FACTOR = 6;
  /**
   * SQS's largest message, 1 MiB since August 2025 (it was 256 KiB). The send function refuses jobs over
   * MAX_MAIL_JOB_BYTES, which leaves room for the message attributes the relay adds when it dead-letters.
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
   */
  static readonly MAX_MESSAGE_BYTES = 1_048_576;

  readonly mailQueue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: QueueingProps) {
    super(scope, id);
    if (MAX_MAIL_JOB_BYTES >= Queueing.MAX_MESSAGE_BYTES) {
      throw new Error(
        `a mail job may be ${MAX_MAIL_JOB_BYTES} bytes; SQS takes ${Queueing.MAX_MESSAGE_BYTES}`,
      );
    }

    // The maximum retention, longer than the mail queue's 4 days: an operator has two weeks to redrive.
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      maxMessageSizeBytes: Queueing.MAX_MESSAGE_BYTES,
    });

    this.mailQueue = new Queue(this, 'MailQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: Queueing.MAX_MESSAGE_BYTES,
      visibilityTimeout: Duration.seconds(
        props.relayTimeout.toSeconds() * Queueing.VISIBILITY_TIMEOUT_FACTOR,
      ),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}
