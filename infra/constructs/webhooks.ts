import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type Dashboard,
  GraphWidget,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ILogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config/config';
import {
  DURATION_METRIC,
  ENDPOINT_DIMENSION,
  METRIC,
  METRIC_NAMESPACE,
  SERVICE,
  WEBHOOK_OUTCOME_METRICS,
} from '../../functions/core/metrics';
import { WEBHOOKS_KEY_PREFIXES } from '../../functions/core/table-keys';
import { ATTEMPT_TIMEOUT_MS, MAX_ATTEMPTS } from '../../functions/core/webhooks/dispatch';
import { MailFunction } from './mail-function';
import { importSecret } from './mail-provider';
import { Queueing } from './queueing';
import { grantItems } from './store';

/** The context key a synth for the local stack's bundles sets: it is never deployed. */
export const LOCAL_SYNTH_CONTEXT = 'postroom:localSynth';

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface WebhooksProps {
  /** The validated configuration; `webhooks` must not be empty. */
  readonly config: PostroomConfig;
  readonly table: ITable;
  /** The functions that publish events (send, relay, events): they may send to the webhook queue, nothing else. */
  readonly producers: ReadonlyArray<IFunction>;
  readonly logRetention: RetentionDays;
  /** Where the alarms notify. @default none */
  readonly alarmTopic?: ITopic;
  /** The stack's dashboard, which gets the webhook widgets. @default none */
  readonly dashboard?: Dashboard;
}

/**
 * Signed webhooks: the webhook queue (one message per event and endpoint) and its dead-letter queue, the
 * dispatcher draining it, its alarms, and the producers' grant to enqueue. Built only when the config has
 * endpoints, so a stack without webhooks pays nothing for them.
 */
export class Webhooks extends Construct {
  /** The dispatcher's timeout: a batch is attempted in parallel, each attempt at most 15 s. */
  static readonly TIMEOUT = Duration.seconds(60);
  /**
   * The queue's redrive is a backstop for a dispatcher that dies mid-attempt; the dispatcher dead-letters
   * after the schedule's attempts itself, with the reason. Receives beyond the attempts leave room for kills.
   */
  static readonly MAX_RECEIVE_COUNT = MAX_ATTEMPTS + 4;

  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly function: IFunction;
  readonly logGroup: ILogGroup;
  readonly alarms: { readonly deadLetters: Alarm; readonly endpointDisabled: Alarm };

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    const { config } = props;
    // A synth for the local stack's bundles (local/synth-functions.ts sets LOCAL_SYNTH_CONTEXT) may name
    // receivers on loopback over http, as the local runner allows; a deployed stack never sends unencrypted.
    const localSynth = this.node.tryGetContext(LOCAL_SYNTH_CONTEXT) === true;
    for (const endpoint of config.webhooks) {
      if (!endpoint.url.startsWith('https://') && !(localSynth && isLoopbackUrl(endpoint.url)))
        throw new Error(`webhooks: "${endpoint.id}" must use an https URL on AWS (${endpoint.url})`);
    }

    // Events are kept as long as SQS allows: the retry schedule alone lasts about 28 hours.
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.seconds(Webhooks.TIMEOUT.toSeconds() * Queueing.VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: Webhooks.MAX_RECEIVE_COUNT },
    });
    if (Webhooks.TIMEOUT.toMilliseconds() < 2 * ATTEMPT_TIMEOUT_MS)
      throw new Error('the dispatcher timeout must leave room for an attempt and its records');

    const dispatcher = new MailFunction(this, 'Dispatcher', {
      entry: 'webhooks',
      description: 'Postroom webhooks: signs and delivers webhook events, with retries',
      config,
      timeout: Webhooks.TIMEOUT,
      memorySize: 256,
      logRetention: props.logRetention,
      environment: {
        TABLE_NAME: props.table.tableName,
        WEBHOOK_QUEUE_URL: this.queue.queueUrl,
        WEBHOOK_DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
      },
    });
    this.function = dispatcher.function;
    this.logGroup = dispatcher.logGroup;
    // Only retried records are reported failed (their visibility already set to the schedule's delay).
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
    dispatcher.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, maxConcurrency: 2, reportBatchItemFailures: true }),
    );
    // Receive, delete, ChangeMessageVisibility (the schedule); send to the DLQ (with the reason).
    this.queue.grantConsumeMessages(dispatcher.function);
    this.deadLetterQueue.grantSendMessages(dispatcher.function);
    // Its attempts (whevt#) and endpoint state (whep#) only.
    grantItems(
      dispatcher.function,
      props.table,
      ['dynamodb:UpdateItem', 'dynamodb:GetItem'],
      WEBHOOKS_KEY_PREFIXES,
    );
    [...new Set(config.webhooks.map((endpoint) => endpoint.secret))].forEach((secret, index) => {
      importSecret(this, `Secret${index}`, secret).grantRead(dispatcher.function);
    });

    for (const producer of props.producers) {
      // SendMessage only (SendMessageBatch is authorized as it): grantSendMessages adds GetQueueAttributes and
      // GetQueueUrl, which a producer never calls.
      producer.addToRolePolicy(
        new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
      );
      if (!(producer instanceof LambdaFunction)) throw new Error(`${producer.node.path}: not a Function`);
      producer.addEnvironment('WEBHOOK_QUEUE_URL', this.queue.queueUrl);
    }

    const deadLetters = new Alarm(this, 'DeadLettersAlarm', {
      alarmDescription:
        'Postroom: webhook events are in the webhooks dead-letter queue: an endpoint failed every attempt ' +
        '(about 28 hours), answered 410, or is disabled. See why with postroom webhooks attempts EVENT-ID; ' +
        'fix the endpoint, postroom webhooks enable ID if it was disabled, then postroom webhooks replay.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: Stats.MAXIMUM,
        period: Duration.minutes(1),
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const endpointDisabled = new Alarm(this, 'EndpointDisabledAlarm', {
      alarmDescription:
        'Postroom: a webhook endpoint answered 410 Gone and was disabled. Its events go to the webhooks ' +
        'dead-letter queue until postroom webhooks enable ID.',
      metric: new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: METRIC.webhookEndpointDisabled,
        dimensionsMap: { service: SERVICE.webhooks },
        statistic: Stats.SUM,
        period: Duration.minutes(5),
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.alarms = { deadLetters, endpointDisabled };
    if (props.alarmTopic) {
      const notify = new SnsAction(props.alarmTopic);
      deadLetters.addAlarmAction(notify);
      endpointDisabled.addAlarmAction(notify);
    }
    if (props.dashboard) this.addWidgets(props.dashboard, config);
  }

  /**
   * One graph per endpoint, a line per outcome (the `endpoint` dimension the dispatcher adds to its four
   * outcome counts), then the totals, the attempt latency and the two queues.
   */
  private addWidgets(dashboard: Dashboard, config: PostroomConfig): void {
    const fiveMinutes = Duration.minutes(5);
    const label: Record<(typeof WEBHOOK_OUTCOME_METRICS)[number], string> = {
      [METRIC.webhookDelivered]: 'Delivered',
      [METRIC.webhookRetried]: 'Retried',
      [METRIC.webhookDeadLettered]: 'Dead-lettered',
      [METRIC.webhookEndpointDisabled]: 'Disabled (410)',
    };
    const count = (
      metricName: string,
      text: string,
      dimensions: Record<string, string> = {},
      service: string = SERVICE.webhooks,
    ) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName,
        dimensionsMap: { service, ...dimensions },
        statistic: Stats.SUM,
        period: fiveMinutes,
        label: text,
      });
    const graph = (title: string, left: Metric[], width: number) =>
      new GraphWidget({ title, left, width, height: 6 });
    const perEndpoint = config.webhooks.map((endpoint) =>
      graph(
        `Webhooks to ${endpoint.id}`,
        WEBHOOK_OUTCOME_METRICS.map((name) =>
          count(name, label[name], { [ENDPOINT_DIMENSION]: endpoint.id }),
        ),
        8,
      ),
    );
    // Rows of three endpoints.
    for (let index = 0; index < perEndpoint.length; index += 3)
      dashboard.addWidgets(...perEndpoint.slice(index, index + 3));
    dashboard.addWidgets(
      graph(
        'Webhooks, all endpoints',
        [
          ...WEBHOOK_OUTCOME_METRICS.map((name) => count(name, label[name])),
          // The producers count events the webhook queue did not take, each under its own service.
          ...[SERVICE.send, SERVICE.relay, SERVICE.events].map((service) =>
            count(METRIC.webhookEnqueueFailed, `Not queued (${service})`, {}, service),
          ),
        ],
        8,
      ),
      graph(
        'Webhook attempt latency (ms)',
        [Stats.p(50), Stats.p(99)].map(
          (statistic) =>
            new Metric({
              namespace: METRIC_NAMESPACE,
              metricName: DURATION_METRIC.webhookLatency,
              dimensionsMap: { service: SERVICE.webhooks },
              statistic,
              period: fiveMinutes,
              label: statistic,
            }),
        ),
        8,
      ),
      new GraphWidget({
        title: 'Webhook queues',
        left: [
          this.queue.metricApproximateNumberOfMessagesVisible({ statistic: Stats.MAXIMUM, label: 'Waiting' }),
          this.queue.metricApproximateNumberOfMessagesNotVisible({
            statistic: Stats.MAXIMUM,
            label: 'In flight or waiting to retry',
          }),
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            statistic: Stats.MAXIMUM,
            label: 'Dead letters',
          }),
        ],
        width: 8,
        height: 6,
      }),
    );
  }
}
