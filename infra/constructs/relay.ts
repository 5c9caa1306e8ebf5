import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config';
import { MailFunction } from './mail-function';

export interface RelayProps {
  readonly config: PostroomConfig;
  /** The `postroom` context as written; the function validates it again at cold start. */
  readonly rawConfig: unknown;
  readonly mailQueue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** Idempotency records: claimed before each send, completed after. */
  readonly table: ITable;
}

/** The relay function: drains the mail queue in batches and sends each job once through SES or SMTP. */
export class Relay extends Construct {
  readonly function: IFunction;

  constructor(scope: Construct, id: string, props: RelayProps) {
    super(scope, id);
    const { config } = props;

    const relay = new MailFunction(this, 'Relay', {
      entry: 'relay',
      description: 'Postroom relay: sends queued mail jobs through the configured transport',
      rawConfig: props.rawConfig,
      timeout: Duration.seconds(config.relay.timeoutSeconds),
      memorySize: 512,
      environment: {
        TABLE_NAME: props.table.tableName,
        MAIL_QUEUE_URL: props.mailQueue.queueUrl,
        DEAD_LETTER_QUEUE_URL: props.deadLetterQueue.queueUrl,
      },
    });
    this.function = relay.function;

    // The handler reports only retryable records as failures; without ReportBatchItemFailures Lambda would
    // retry the whole batch and resend mail that went out. Maximum concurrency caps the provider send rate.
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
    relay.function.addEventSource(
      new SqsEventSource(props.mailQueue, {
        batchSize: config.queue.batchSize,
        maxConcurrency: config.queue.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    // Receive, delete and ChangeMessageVisibility (the relay's backoff for transient failures).
    props.mailQueue.grantConsumeMessages(relay.function);
    // Permanent failures are dead-lettered by the relay itself, with their reason as a message attribute.
    props.deadLetterQueue.grantSendMessages(relay.function);
    props.table.grantReadWriteData(relay.function);

    if (config.transport.kind === 'ses') {
      relay.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: sesSendResources(this, config.sender.address, config.transport.configurationSet),
        }),
      );
    }
  }
}

/**
 * SES authorizes a send against the identity of the From address (the address itself when it is verified,
 * otherwise its domain) and against the configuration set, when one is used.
 * https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html
 */
function sesSendResources(scope: Construct, sender: string, configurationSet: string | undefined): string[] {
  const stack = Stack.of(scope);
  const domain = sender.slice(sender.lastIndexOf('@') + 1);
  const identity = (name: string) =>
    stack.formatArn({ service: 'ses', resource: 'identity', resourceName: name });
  return [
    identity(domain),
    identity(sender),
    ...(configurationSet
      ? [stack.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: configurationSet })]
      : []),
  ];
}
