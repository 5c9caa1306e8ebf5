import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  type ConfigurationSetEventDestination,
  EmailSendingEvent,
  EventDestination,
} from 'aws-cdk-lib/aws-ses';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config/config';
import { EVENTS_PUT_KEY_PREFIXES, EVENTS_UPDATE_KEY_PREFIXES } from '../../functions/core/table-keys';
import { MailFunction } from './mail-function';
import type { MailProvider } from './mail-provider';
import { grantItems } from './store';

export interface DeliveryEventsProps {
  /** The validated configuration, built into the function's code package. */
  readonly config: PostroomConfig;
  /** Where message status and the suppression list live. */
  readonly table: ITable;
  /** The SES resources: the event destination is added to the configuration set the stack created. */
  readonly provider: MailProvider;
  readonly logRetention: RetentionDays;
}

/** The SES events Postroom records. Send, open and click are not recorded, so not published. */
export const RECORDED_EVENTS = [
  EmailSendingEvent.DELIVERY,
  EmailSendingEvent.BOUNCE,
  EmailSendingEvent.COMPLAINT,
  EmailSendingEvent.REJECT,
];

/**
 * SES delivery events: the configuration set publishes delivery, bounce, complaint and reject events to an
 * encrypted SNS topic, which invokes the events function; it records each on its message and adds hard
 * bounces and complaints to the suppression list.
 * When the configuration names an existing configuration set, the stack does not own it and cannot add
 * the destination: the topic (whose policy lets SES publish for that set) and function are still created,
 * and the operator adds an SNS event destination for this topic to that set (docs/deploy.md).
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-add-event-destination-sns.html
 */
export class DeliveryEvents extends Construct {
  readonly topic: Topic;
  /** With `monitoring.encryptTopics` only. */
  readonly topicKey: Key | undefined;
  readonly function: IFunction;
  readonly logGroup: ILogGroup;
  readonly eventDestination: ConfigurationSetEventDestination | undefined;

  constructor(scope: Construct, id: string, props: DeliveryEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // SES publishes to an encrypted topic only with a customer-managed key whose policy lets SES use it;
    // the AWS-managed alias/aws/sns key cannot be shared with SES. That key costs USD 1 a month (more than
    // the rest of a small stack's event handling), so it is made only with `monitoring.encryptTopics`.
    // https://docs.aws.amazon.com/ses/latest/dg/configure-sns-notifications.html#configure-feedback-notifications-encrypted-topic
    this.topicKey = props.config.monitoring.encryptTopics
      ? new Key(this, 'TopicKey', {
          description: 'Postroom: encrypts the SES delivery events topic',
          enableKeyRotation: true,
          // It protects events in flight only; nothing stays encrypted under it after a teardown.
          removalPolicy: RemovalPolicy.DESTROY,
          pendingWindow: Duration.days(7),
        })
      : undefined;
    this.topicKey?.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowSesToPublishEncrypted',
        principals: [new ServicePrincipal('ses.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      displayName: 'Postroom SES delivery events',
      ...(this.topicKey ? { masterKey: this.topicKey } : {}),
      enforceSSL: true,
    });
    if (this.topicKey === undefined) {
      Validations.of(this.topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'SES delivery events pass through the topic in seconds on their way to the events function; the ' +
          'topic refuses anything but TLS. monitoring.encryptTopics adds a customer-managed key where a ' +
          'policy requires server-side encryption (USD 1 a month).',
      });
    }

    const events = new MailFunction(this, 'Events', {
      entry: 'events',
      description: 'Postroom events: records SES delivery events and maintains the suppression list',
      config: props.config,
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      environment: { TABLE_NAME: props.table.tableName },
    });
    this.function = events.function;
    this.logGroup = events.logGroup;
    this.topic.addSubscription(new LambdaSubscription(events.function));

    // Exactly what the events function calls: UpdateItem on existing `msg#` items (conditional on the item
    // existing) and PutItem of `supp#` items. It reads nothing and deletes nothing.
    grantItems(events.function, props.table, ['dynamodb:UpdateItem'], EVENTS_UPDATE_KEY_PREFIXES);
    grantItems(events.function, props.table, ['dynamodb:PutItem'], EVENTS_PUT_KEY_PREFIXES);

    const configurationSet = props.provider.ownedConfigurationSet;
    // CDK adds the topic policy letting SES publish, for this configuration set and account only.
    this.eventDestination = configurationSet?.addEventDestination('DeliveryEvents', {
      destination: EventDestination.snsTopic(this.topic),
      events: RECORDED_EVENTS,
    });
    const sharedSetName = configurationSet ? undefined : props.provider.configurationSetName;
    if (sharedSetName !== undefined) {
      // A set the stack does not own gets its destination from the operator, but SES can only publish to
      // the topic if the topic's policy lets it: the TLS-only policy replaces SNS's default one, which never
      // named SES anyway. The same statement CDK adds for an owned set, for the named set and account only.
      // https://docs.aws.amazon.com/ses/latest/dg/event-publishing-add-event-destination-sns.html
      this.topic.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowSesToPublishSharedSetEvents',
          principals: [new ServicePrincipal('ses.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: {
            StringEquals: {
              'AWS:SourceAccount': stack.account,
              'AWS:SourceArn': stack.formatArn({
                service: 'ses',
                resource: 'configuration-set',
                resourceName: sharedSetName,
              }),
            },
          },
        }),
      );
    }
  }
}
