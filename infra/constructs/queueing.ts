import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

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

  readonly mailQueue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: QueueingProps) {
    super(scope, id);

    // The maximum retention, longer than the mail queue's 4 days: an operator has two weeks to redrive.
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.mailQueue = new Queue(this, 'MailQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(
        props.relayTimeout.toSeconds() * Queueing.VISIBILITY_TIMEOUT_FACTOR,
      ),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}
