import { App, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { type PostroomConfig, parseConfig } from '../functions/core/config/config';
import { Api } from './constructs/api';
import { SubmissionArchive } from './constructs/archive';
import { Attachments } from './constructs/attachments';
import { DeliveryEvents } from './constructs/delivery-events';
import { MailProvider } from './constructs/mail-provider';
import { Monitoring } from './constructs/monitoring';
import { Queueing } from './constructs/queueing';
import { Relay } from './constructs/relay';
import { Scheduling } from './constructs/scheduling';
import { Store } from './constructs/store';
import { Webhooks } from './constructs/webhooks';
import { FEATURE_FLAGS } from './feature-flags';

export interface PostroomStackProps extends StackProps {
  /** The validated configuration: the functions run with it as built, without validating it again. */
  readonly config: PostroomConfig;
}

/** Postroom: API -> send function -> mail queue -> relay function -> SES or SMTP, with a DLQ and a record table. */
export class PostroomStack extends Stack {
  readonly api: Api;
  readonly queueing: Queueing;
  readonly store: Store;
  readonly provider: MailProvider;
  readonly relay: Relay;
  readonly monitoring: Monitoring;
  readonly attachments: Attachments;
  /** Scheduled send beyond SQS's 15-minute delay: EventBridge Scheduler. */
  readonly scheduling: Scheduling;
  /** SES delivery events (SES only: an SMTP relay publishes none). */
  readonly deliveryEvents: DeliveryEvents | undefined;
  /** Signed webhooks (only when the config has endpoints). */
  readonly webhooks: Webhooks | undefined;
  /** The submission archive (only when a form has `archive`). */
  readonly archive: SubmissionArchive | undefined;

  constructor(scope: Construct, id: string, props: PostroomStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = retentionDays(config.monitoring.logRetentionDays);

    this.queueing = new Queueing(this, 'Queueing', {
      maxReceiveCount: config.queue.maxReceiveCount,
      relayTimeout: Duration.seconds(config.relay.timeoutSeconds),
    });
    this.store = new Store(this, 'Store');
    // The claim-check bucket: for forms that accept files and for API messages with attachments.
    this.attachments = new Attachments(this, 'Attachments');
    this.provider = new MailProvider(this, 'MailProvider', {
      senderAddress: config.sender.address,
      transport: config.transport,
      transports: config.transports,
    });
    this.relay = new Relay(this, 'Relay', {
      config,
      mailQueue: this.queueing.mailQueue,
      deadLetterQueue: this.queueing.deadLetterQueue,
      table: this.store.table,
      provider: this.provider,
      logRetention,
      attachments: this.attachments,
    });
    this.deliveryEvents =
      config.transport.kind === 'ses'
        ? new DeliveryEvents(this, 'DeliveryEvents', {
            config,
            table: this.store.table,
            provider: this.provider,
            logRetention,
          })
        : undefined;
    this.scheduling = new Scheduling(this, 'Scheduling', {
      mailQueue: this.queueing.mailQueue,
      deadLetterQueue: this.queueing.deadLetterQueue,
    });
    this.archive = config.forms.some((form) => form.archive !== undefined)
      ? new SubmissionArchive(this, 'Archive', {
          config,
          attachments: this.attachments,
          recordTable: this.store.table,
          mailQueue: this.queueing.mailQueue,
        })
      : undefined;
    this.api = new Api(this, 'Api', {
      config,
      mailQueue: this.queueing.mailQueue,
      table: this.store.table,
      throttlingRateLimit: config.api.throttleRatePerSecond,
      throttlingBurstLimit: config.api.throttleBurst,
      logRetention,
      firewall: config.api.waf.enabled
        ? { requestsPerFiveMinutes: config.api.waf.requestsPerFiveMinutes }
        : undefined,
      attachments: this.attachments,
      scheduling: this.scheduling,
      archive: this.archive,
      akismetSecret: config.akismet?.secret,
      captchaSecrets: [
        ...new Set(config.forms.flatMap((form) => (form.captcha ? [form.captcha.secret] : []))),
      ],
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      restApi: this.api.restApi,
      sendFunction: this.api.function,
      relayFunction: this.relay.function,
      mailQueue: this.queueing.mailQueue,
      deadLetterQueue: this.queueing.deadLetterQueue,
      monitoring: config.monitoring,
      sesConfigurationSetName: this.provider.configurationSetName,
      providerIds: config.transports.map((t) => t.id),
      smtpTransport: config.transports.some((t) => t.kind === 'smtp'),
    });
    this.webhooks =
      config.webhooks.length > 0
        ? new Webhooks(this, 'Webhooks', {
            config,
            table: this.store.table,
            producers: [
              this.api.function,
              this.relay.function,
              ...(this.deliveryEvents ? [this.deliveryEvents.function] : []),
            ],
            logRetention,
            alarmTopic: this.monitoring.alarmTopic,
            dashboard: this.monitoring.dashboard,
          })
        : undefined;

    new CfnOutput(this, 'ApiUrl', {
      description:
        'Base URL of the API (stage prod); GET <ApiUrl>health answers 200 when mail can be accepted',
      value: this.api.restApi.url,
    });
    const formOfKey = new Map<string, string>();
    for (const form of config.forms) {
      const key = `FormEndpoint${pascalCase(form.id)}`;
      const other = formOfKey.get(key);
      if (other !== undefined) {
        throw new Error(`forms "${other}" and "${form.id}" would share the stack output ${key}; rename one`);
      }
      formOfKey.set(key, form.id);
      new CfnOutput(this, key, {
        description: `POST endpoint of form "${form.id}"`,
        value: this.api.formEndpoint(form.id),
      });
    }
    new CfnOutput(this, 'QueueUrl', {
      description: 'SQS mail queue the relay function reads (postroom status --stack)',
      value: this.queueing.mailQueue.queueUrl,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description:
        'Dead-letter queue: mail that could not be sent, with its reason (postroom dlq list --stack)',
      value: this.queueing.deadLetterQueue.queueUrl,
    });
    // `postroom --stack NAME` finds the table and the configuration set through these.
    if (this.webhooks) {
      new CfnOutput(this, 'WebhookQueueUrl', {
        description: 'The webhook queue (postroom webhooks replay|test --stack NAME)',
        value: this.webhooks.queue.queueUrl,
      });
    }
    if (this.archive) {
      // `postroom submissions --stack NAME` finds the archive through these; operators attach the policy.
      new CfnOutput(this, 'ArchiveTableName', {
        description: 'DynamoDB table of archived submissions (postroom submissions --stack)',
        value: this.archive.table.tableName,
      });
      new CfnOutput(this, 'AttachmentsBucketName', {
        description: 'Bucket of attachments and archived files (under archive/)',
        value: this.attachments.bucket.bucketName,
      });
      new CfnOutput(this, 'ArchiveHashKeySecretArn', {
        description: 'Secret holding the HMAC key of the archive\u2019s erasure index',
        value: this.archive.hashKey.secretArn,
      });
      new CfnOutput(this, 'ArchiveOperatorPolicyArn', {
        description: 'Managed policy to attach to operators who read, export and erase submissions',
        value: this.archive.operatorPolicy.managedPolicyArn,
      });
    }
    new CfnOutput(this, 'TableName', {
      description:
        'DynamoDB record table: message status, API key hashes, suppression list (postroom keys --stack)',
      value: this.store.table.tableName,
    });
    if (this.provider.configurationSetName !== undefined) {
      new CfnOutput(this, 'SesConfigurationSet', {
        description: 'SES configuration set the relay sends through',
        value: this.provider.configurationSetName,
      });
    }
    if (this.monitoring.dashboardUrl !== undefined) {
      new CfnOutput(this, 'DashboardUrl', {
        description: 'CloudWatch dashboard of the stack (monitoring.level full)',
        value: this.monitoring.dashboardUrl,
      });
    }
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic every alarm notifies; subscribe your pager or chat to it',
      value: this.monitoring.alarmTopic.topicArn,
    });
    if (this.deliveryEvents) {
      new CfnOutput(this, 'DeliveryEventsTopicArn', {
        description: this.deliveryEvents.eventDestination
          ? 'SNS topic the SES configuration set publishes delivery events to'
          : 'Add an SNS event destination (delivery, bounce, complaint, reject) for this topic to your configuration set',
        value: this.deliveryEvents.topic.topicArn,
      });
    }
    // The three CNAME records that verify the domain identity and let SES sign with Easy DKIM.
    this.provider.domainIdentity?.dkimRecords.forEach((record, index) => {
      const n = index + 1;
      new CfnOutput(this, `DkimRecord${n}Name`, {
        description: `DKIM CNAME record ${n}: name`,
        value: record.name,
      });
      new CfnOutput(this, `DkimRecord${n}Value`, {
        description: `DKIM CNAME record ${n}: value`,
        value: record.value,
      });
    });
  }
}

/** `monitoring.logRetentionDays` allows exactly CloudWatch Logs' retention periods, the RetentionDays values. */
function retentionDays(days: number): RetentionDays {
  const retention = Object.values(RetentionDays).find((value) => value === days);
  if (typeof retention !== 'number' || retention === RetentionDays.INFINITE) {
    throw new Error(`${days} days is not a CloudWatch Logs retention period`);
  }
  return retention;
}

/** Output keys are alphanumeric; form ids are lowercase with dashes: `contact-sales` -> `ContactSales`. */
export function pascalCase(formId: string): string {
  return formId.replace(/(?:^|-+)(.?)/g, (_, next: string) => next.toUpperCase());
}

/**
 * Validates the raw `postroom` configuration and adds the Postroom stack to `app`. Throws the ConfigError
 * (naming each bad field) before any resource is built.
 */
export function buildApp(rawConfig: unknown, app: App = new App(), stackProps: StackProps = {}) {
  const config = parseConfig(rawConfig);
  // The flags a new CDK app gets, unless the app's context (cdk.json, cdk -c) already says otherwise.
  // Context can only be set before the app has children, so here, before the stack.
  for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
    if (app.node.tryGetContext(flag) === undefined) app.node.setContext(flag, value);
  }
  const stack = new PostroomStack(app, 'Postroom', {
    description: 'Postroom: serverless email sending (forms and API, queued, relayed once)',
    ...stackProps,
    env: { region: config.region, ...stackProps.env },
    config,
  });
  return { app, stack, config };
}
