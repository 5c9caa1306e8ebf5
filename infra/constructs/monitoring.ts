import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { RestApiBase } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  Metric,
  type MetricOptions,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config/config';
import {
  DURATION_METRIC,
  type DurationMetricName,
  METRIC,
  METRIC_DIMENSION,
  METRIC_NAMESPACE,
  type MetricName,
  PROVIDER_DIMENSION,
  SERVICE,
} from '../../functions/core/metrics';
import { atLevel, type MonitoringLevel } from '../../functions/core/monitoring';

export interface MonitoringProps {
  /**
   * The public API. `RestApiBase` rather than `IRestApi`: only the former has the metric helpers.
   */
  readonly restApi: RestApiBase;
  /**
   * Watch one stage only (the `ApiName` + `Stage` dimensions).
   * @default - every stage of the API (the `ApiName` dimension)
   */
  readonly stageName?: string;
  /** The mail queue the relay drains. */
  readonly mailQueue: IQueue;
  /** The mail queue's dead-letter queue. */
  readonly deadLetterQueue: IQueue;
  /** The function that drains the mail queue and sends. */
  readonly relayFunction: IFunction;
  /** The function behind the API. */
  readonly sendFunction: IFunction;
  /** Thresholds and the alarm address (`monitoring` in the configuration). */
  readonly monitoring: PostroomConfig['monitoring'];
  /**
   * An SES configuration set whose reputation metrics the dashboard shows beside the account's. SES publishes
   * them only when the set has reputation metrics enabled.
   * @default - the account's reputation metrics only
   */
  readonly sesConfigurationSetName?: string;
  /**
   * The ids of the providers in failover order (`transports`): with more than one, the dashboard graphs
   * FailedOver, BreakerOpen, ProviderAccountError and UncertainSend per provider, and two alarms watch them.
   * @default - one provider: no failover widgets or alarms
   */
  readonly providerIds?: ReadonlyArray<string>;
  /**
   * The relay talks SMTP: alarm on sessions that could not be made safe. With SES the metric is never
   * emitted, so the alarm would only cost money.
   * @default false
   */
  readonly smtpTransport?: boolean;
}

/**
 * The alarms, by what they watch. The essential ones exist at every level; `apiServerErrors` only at `full`,
 * `relaySessions` only with an SMTP transport.
 */
export interface MonitoringAlarms {
  readonly deadLetters: Alarm;
  readonly oldestMessage: Alarm;
  readonly relayErrors: Alarm;
  readonly bounceRate: Alarm;
  readonly complaintRate: Alarm;
  readonly apiServerErrors?: Alarm;
  readonly relaySessions?: Alarm;
  /** A provider's circuit breaker opened (with more than one provider). */
  readonly breakerOpen?: Alarm;
  /** A provider refused the account or its setup (with more than one provider). */
  readonly providerAccount?: Alarm;
}

/**
 * What an operator needs to be told (alarms to an SNS topic) and, at `monitoring.level: full`, to see (a
 * dashboard) about a running Postroom. Other constructs hook in through `level`, `notify` and `addWidgets`.
 */
export class Monitoring extends Construct {
  /** `monitoring.level`: test with `atLevel(monitoring.level, 'full')` before adding what only full has. */
  readonly level: MonitoringLevel;
  /** Receives every alarm's state changes; `monitoring.alarmEmail` is subscribed when set. */
  readonly alarmTopic: Topic;
  /**
   * Encrypts the alarm topic, with `monitoring.encryptTopics` only; CloudWatch may use it for this account's
   * alarms only.
   */
  readonly alarmTopicKey: Key | undefined;
  readonly alarms: MonitoringAlarms;
  /** At `full` only. */
  readonly dashboard: Dashboard | undefined;
  /** The dashboard in the CloudWatch console (a token until deployment), at `full` only. */
  readonly dashboardUrl: string | undefined;
  private readonly notifyAction: SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { monitoring } = props;
    this.level = monitoring.level;
    const full = atLevel(this.level, 'full');

    // A customer-managed key costs USD 1 a month (and 1 more per yearly rotation), more than the rest of a
    // small stack's monitoring, so it is made only when the operator's policy asks for SNS server-side
    // encryption. Then it must be customer-managed: the AWS-managed alias/aws/sns key's policy cannot be
    // edited and does not let CloudWatch use it, so alarms could not publish to the topic at all.
    // https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
    this.alarmTopicKey = monitoring.encryptTopics
      ? new Key(this, 'AlarmTopicKey', {
          description: 'Postroom: encrypts the alarm notification topic',
          enableKeyRotation: true,
          // It protects notifications in flight only; nothing stays encrypted under it after a teardown.
          removalPolicy: RemovalPolicy.DESTROY,
          pendingWindow: Duration.days(7),
        })
      : undefined;
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: 'Postroom alarms',
      ...(this.alarmTopicKey ? { masterKey: this.alarmTopicKey } : {}),
      enforceSSL: true,
    });
    if (this.alarmTopicKey === undefined) {
      Validations.of(this.alarmTopic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Alarm notifications carry alarm names, states and metric values: no mail, address or secret. ' +
          'The topic refuses publishing without TLS; monitoring.encryptTopics adds a customer-managed key ' +
          'where a policy requires server-side encryption (USD 1 a month).',
      });
    }

    // A topic policy replaces SNS's default one, which is what lets CloudWatch publish; say so explicitly,
    // for this account's alarms only (confused-deputy protection).
    // https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOwnAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: fromOwnAlarms,
      }),
    );
    this.alarmTopicKey?.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseKey',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOwnAlarms,
      }),
    );
    this.notifyAction = new SnsAction(this.alarmTopic);
    if (monitoring.alarmEmail) {
      this.alarmTopic.addSubscription(new EmailSubscription(monitoring.alarmEmail));
    }

    const api = new ApiMetrics(props.restApi, props.stageName);
    const relay = props.relayFunction;
    const fiveMinutes = Duration.minutes(5);

    const deadLetters = new Alarm(this, 'DeadLettersAlarm', {
      alarmDescription:
        'Postroom: mail jobs are in the dead-letter queue. Each is a message that was not sent after every ' +
        'retry, or could not be sent at all, or a scheduled job EventBridge Scheduler could not put on the ' +
        'mail queue. See why with postroom dlq list --stack NAME, fix the cause ' +
        '(identity, credentials, quota), then postroom dlq redrive --stack NAME --all.',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: Stats.MAXIMUM,
        period: Duration.minutes(1),
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // SQS stops publishing for an empty queue that nothing touches: no data is an empty DLQ.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const oldestMessage = new Alarm(this, 'OldestMessageAlarm', {
      alarmDescription:
        `Postroom: a mail job has waited more than ${monitoring.oldestMessageAgeSeconds} s in the mail queue. ` +
        'The relay is not keeping up or not running: check its throttles, errors and maximum concurrency, ' +
        'and whether the provider is refusing or slowing sends.',
      metric: props.mailQueue.metricApproximateAgeOfOldestMessage({
        statistic: Stats.MAXIMUM,
        period: fiveMinutes,
      }),
      threshold: monitoring.oldestMessageAgeSeconds,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The relay polls the queue all the time, so SQS publishes; a gap means an idle, empty queue.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const relayErrorRate = new MathExpression({
      // Lambda publishes nothing in a period without invocations; IF avoids dividing by zero there.
      expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
      usingMetrics: {
        invocations: relay.metricInvocations({ statistic: Stats.SUM, period: fiveMinutes }),
        errors: relay.metricErrors({ statistic: Stats.SUM, period: fiveMinutes }),
      },
      period: fiveMinutes,
      label: 'Relay error rate (%)',
    });
    const relayErrors = new Alarm(this, 'RelayErrorRateAlarm', {
      alarmDescription:
        `Postroom: more than ${monitoring.relayErrorRatePercent}% of relay invocations failed in 5 minutes. ` +
        'These are crashes and timeouts of whole batches (failed sends of single jobs are reported as ' +
        'partial batch failures and counted by MailRetried). Read the relay logs; a timeout may need a ' +
        'longer relay.timeoutSeconds or a smaller batch.',
      metric: relayErrorRate,
      threshold: monitoring.relayErrorRatePercent,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No invocations, no errors.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // At `full` only: a lost submission also shows as a 5xx the sender's browser or client gets, while the
    // essential alarms watch what no one else sees (mail that waits, fails or dead-letters).
    const apiServerErrors = !full
      ? undefined
      : new Alarm(this, 'ApiServerErrorsAlarm', {
          alarmDescription:
            `Postroom: the API answered more than ${monitoring.apiServerErrors} 5xx responses in 5 minutes, so ` +
            'submissions are being lost. Read the send function logs, and check that it may still send to the ' +
            'mail queue and is not throttled.',
          metric: api.serverErrors({ statistic: Stats.SUM, period: fiveMinutes }),
          threshold: monitoring.apiServerErrors,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          // No requests, no errors.
          treatMissingData: TreatMissingData.NOT_BREACHING,
        });

    // SES publishes the rates as fractions (0.05 is 5%) and reviews an account from 5% bounces or 0.1%
    // complaints. https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-cloudwatch-alarm.html
    const bounceRate = new Alarm(this, 'BounceRateAlarm', {
      alarmDescription:
        `Postroom: the account's SES bounce rate reached ${monitoring.bounceRatePercent}%. SES reviews, and may ` +
        'pause, accounts with high bounce rates. Find the bouncing recipients (form recipients that no ' +
        'longer exist?) and remove them; see the reputation metrics in the SES console.',
      metric: sesReputation('Reputation.BounceRate'),
      threshold: monitoring.bounceRatePercent / 100,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // SES publishes nothing until the account has had a bounce or complaint: no data is a clean record.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const complaintRate = new Alarm(this, 'ComplaintRateAlarm', {
      alarmDescription:
        `Postroom: the account's SES complaint rate reached ${monitoring.complaintRatePercent}%. SES reviews, ` +
        'and may pause, accounts with high complaint rates. Check whether spam is getting through the forms ' +
        '(SpamBlocked, MailAccepted) and tighten the guards.',
      metric: sesReputation('Reputation.ComplaintRate'),
      threshold: monitoring.complaintRatePercent / 100,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // An SMTP relay that stops offering STARTTLS, fails the TLS handshake or refuses AUTH fails every mail
    // alike. The relay retries them with backoff (never in plaintext), so the queue only ages: say why at once.
    const relaySessions = !props.smtpTransport
      ? undefined
      : new Alarm(this, 'RelaySessionFailuresAlarm', {
          alarmDescription:
            'Postroom: the SMTP relay could not set up a safe session in the last 5 minutes (STARTTLS not offered ' +
            'or refused, TLS handshake failed, or AUTH refused). Mail waits on the queue and is retried with ' +
            'backoff, never sent in plaintext. See RelaySessionFailed by stage on the dashboard and the relay ' +
            'logs ("smtp starttls failed" / "smtp auth failed"); check the relay host, its certificate and the ' +
            'credentials. Jobs dead-letter after queue.maxReceiveCount attempts.',
          // No label: a labelled metric becomes a metric-math query in the alarm, harder to read in the console.
          metric: new Metric({
            namespace: METRIC_NAMESPACE,
            metricName: METRIC.relaySessionFailed,
            dimensionsMap: { service: SERVICE.relay },
            statistic: Stats.SUM,
            period: fiveMinutes,
          }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          // Emitted only when a session fails (never with SES): no data is no failure.
          treatMissingData: TreatMissingData.NOT_BREACHING,
        });

    // Failover is silent to the sender by design; it must not be to the operator (docs/failover.md).
    const providerIds = props.providerIds ?? [];
    const failover = providerIds.length > 1;
    const relayTotal = (metricName: MetricName) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE.relay },
        statistic: Stats.SUM,
        period: fiveMinutes,
      });
    const failoverAlarms = failover
      ? {
          breakerOpen: new Alarm(this, 'BreakerOpenAlarm', {
            alarmDescription:
              "Postroom: a provider's circuit breaker opened in the last 5 minutes: it failed too often, and every " +
              'relay skips it for breaker.openSeconds, then one probe tries it again. Mail goes to the next provider ' +
              'meanwhile. See BreakerOpen and FailedOver by provider on the dashboard, the relay logs ("circuit ' +
              'breaker opened") and `postroom status`. docs/failover.md',
            metric: relayTotal(METRIC.breakerOpen),
            threshold: 1,
            comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
          providerAccount: new Alarm(this, 'ProviderAccountErrorAlarm', {
            alarmDescription:
              'Postroom: a provider refused the account or its setup in the last 5 minutes (SES sending paused, ' +
              'account suspended, identity not verified, access denied; SMTP AUTH or TLS refused). Mail fails over ' +
              'to the next provider, but this will not pass by itself: fix the account or the configuration. See ' +
              'ProviderAccountError by provider and the relay logs ("provider refused the account or its setup").',
            metric: relayTotal(METRIC.providerAccountError),
            threshold: 1,
            comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
        }
      : {};
    this.alarms = {
      deadLetters,
      oldestMessage,
      relayErrors,
      bounceRate,
      complaintRate,
      ...(apiServerErrors ? { apiServerErrors } : {}),
      ...(relaySessions ? { relaySessions } : {}),
      ...failoverAlarms,
    };
    for (const alarm of Object.values(this.alarms)) this.notify(alarm);
    // Tell the operator when the dead-letter queue is empty again, e.g. after a redrive.
    deadLetters.addOkAction(this.notifyAction);

    if (!full) {
      this.dashboard = undefined;
      this.dashboardUrl = undefined;
      return;
    }
    // No dashboardName: a fixed name would clash between two stacks in one account.
    const dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard = dashboard;
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24 }),
    );
    this.dashboard.addWidgets(
      graph('API requests', [api.count({ statistic: Stats.SUM, label: 'Requests' })], 6),
      graph('API 4xx', [api.clientErrors({ statistic: Stats.SUM, label: '4xx' })], 6),
      graph('API 5xx', [api.serverErrors({ statistic: Stats.SUM, label: '5xx' })], 6),
      graph(
        'API latency (ms)',
        [
          api.latency({ statistic: Stats.p(50), label: 'p50' }),
          api.latency({ statistic: Stats.p(99), label: 'p99' }),
        ],
        6,
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Mail queue depth',
        [
          props.mailQueue.metricApproximateNumberOfMessagesVisible({
            statistic: Stats.MAXIMUM,
            label: 'Waiting',
          }),
          props.mailQueue.metricApproximateNumberOfMessagesNotVisible({
            statistic: Stats.MAXIMUM,
            label: 'In flight',
          }),
        ],
        8,
      ),
      graph(
        'Oldest queued mail (s)',
        [props.mailQueue.metricApproximateAgeOfOldestMessage({ statistic: Stats.MAXIMUM, label: 'Age' })],
        8,
      ),
      graph(
        'Dead-letter queue depth',
        [
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            statistic: Stats.MAXIMUM,
            label: 'Dead letters',
          }),
        ],
        8,
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Relay invocations and errors',
        [
          relay.metricInvocations({ statistic: Stats.SUM, label: 'Invocations' }),
          relay.metricErrors({ statistic: Stats.SUM, label: 'Errors' }),
        ],
        6,
      ),
      graph('Relay error rate (%)', [relayErrorRate], 6),
      graph(
        'Relay duration (ms)',
        [
          relay.metricDuration({ statistic: Stats.p(50), label: 'p50' }),
          relay.metricDuration({ statistic: Stats.p(99), label: 'p99' }),
        ],
        6,
      ),
      graph(
        'Throttles',
        [
          relay.metricThrottles({ statistic: Stats.SUM, label: 'Relay' }),
          props.sendFunction.metricThrottles({ statistic: Stats.SUM, label: 'Send' }),
        ],
        6,
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Submissions',
        [
          postroomMetric(METRIC.accepted, SERVICE.send, 'Accepted'),
          postroomMetric(METRIC.rejected, SERVICE.send, 'Rejected'),
          postroomMetric(METRIC.spamBlocked, SERVICE.send, 'Spam blocked'),
        ],
        12,
      ),
      graph(
        'Delivery',
        [
          postroomMetric(METRIC.sent, SERVICE.relay, 'Sent'),
          postroomMetric(METRIC.retried, SERVICE.relay, 'Retried'),
          postroomMetric(METRIC.failed, SERVICE.relay, 'Failed (dead-lettered)'),
          postroomMetric(METRIC.duplicate, SERVICE.relay, 'Duplicates dropped'),
          postroomMetric(METRIC.delivered, SERVICE.events, 'Delivered'),
          postroomMetric(METRIC.bounced, SERVICE.events, 'Bounced'),
          postroomMetric(METRIC.complained, SERVICE.events, 'Complained'),
        ],
        12,
      ),
    );
    // One line per value of the metric's fixed list (core/metrics.ts), so a new reason is graphed as soon as
    // it is emitted. The totals above stay the undimensioned series: summing these would miss nothing, but
    // alarms and older graphs read the totals.
    this.dashboard.addWidgets(
      graph('Rejected submissions by reason', byDimension(METRIC.rejected, SERVICE.send), 8),
      graph('Spam blocked by guard', byDimension(METRIC.spamBlocked, SERVICE.send), 8),
      graph('Dead-lettered mail by reason', byDimension(METRIC.failed, SERVICE.relay), 8),
    );
    this.dashboard.addWidgets(
      graph('Recipients refused by the provider', byDimension(METRIC.recipientRefused, SERVICE.relay), 12),
      graph('SMTP session failures by stage', byDimension(METRIC.relaySessionFailed, SERVICE.relay), 12),
    );
    if (failover) {
      const perProvider = (metricName: MetricName): IMetric[] =>
        providerIds.map(
          (provider) =>
            new Metric({
              namespace: METRIC_NAMESPACE,
              metricName,
              dimensionsMap: { service: SERVICE.relay, [PROVIDER_DIMENSION]: provider },
              statistic: Stats.SUM,
              period: fiveMinutes,
              label: provider,
            }),
        );
      this.dashboard.addWidgets(
        graph('Failed over, by the provider that did not take the mail', perProvider(METRIC.failedOver), 6),
        graph('Circuit breakers opened, by provider', perProvider(METRIC.breakerOpen), 6),
        graph('Account or setup refusals, by provider', perProvider(METRIC.providerAccountError), 6),
        graph('Uncertain sends (retried on the same provider)', perProvider(METRIC.uncertainSend), 6),
      );
    }
    const reputation = (name: string, label: string): IMetric[] => {
      const metrics: IMetric[] = [sesReputation(name, { label: `${label} (account)` })];
      if (props.sesConfigurationSetName) {
        metrics.push(
          sesReputation(name, {
            label: `${label} (${props.sesConfigurationSetName})`,
            dimensionsMap: { 'ses:configuration-set': props.sesConfigurationSetName },
          }),
        );
      }
      return metrics;
    };
    this.dashboard.addWidgets(
      graph('SES bounce rate (fraction)', reputation('Reputation.BounceRate', 'Bounce rate'), 12),
      graph('SES complaint rate (fraction)', reputation('Reputation.ComplaintRate', 'Complaint rate'), 12),
    );
    const latency = (name: DurationMetricName, label: string): IMetric[] => [
      postroomMetric(name, SERVICE.relay, `${label} p50`, Stats.p(50)),
      postroomMetric(name, SERVICE.relay, `${label} p99`, Stats.p(99)),
    ];
    this.dashboard.addWidgets(
      graph('Provider send latency (ms)', latency(DURATION_METRIC.sendLatency, 'Send'), 12),
      graph('Queue to sent latency (ms)', latency(DURATION_METRIC.queueToSentLatency, 'Queue to sent'), 12),
    );

    const region = stack.region;
    this.dashboardUrl = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${dashboard.dashboardName}`;
  }

  /** Sends an alarm's state changes to the alarm topic (for alarms other constructs make). */
  notify(alarm: Alarm): void {
    alarm.addAlarmAction(this.notifyAction);
  }

  /**
   * Adds a row to the dashboard at `full`; does nothing at `essential`, so a construct need not check. The
   * widgets' metrics should be ones emitted at `full` (core/metrics.ts `metricsAtLevel`).
   */
  addWidgets(...widgets: IWidget[]): void {
    this.dashboard?.addWidgets(...widgets);
  }
}

/** The API's metrics, for every stage or for one. */
class ApiMetrics {
  constructor(
    private readonly restApi: RestApiBase,
    private readonly stageName: string | undefined,
  ) {}

  count(options: MetricOptions): Metric {
    return this.restApi.metricCount(this.scoped(options));
  }

  clientErrors(options: MetricOptions): Metric {
    return this.restApi.metricClientError(this.scoped(options));
  }

  serverErrors(options: MetricOptions): Metric {
    return this.restApi.metricServerError(this.scoped(options));
  }

  latency(options: MetricOptions): Metric {
    return this.restApi.metricLatency(this.scoped(options));
  }

  private scoped(options: MetricOptions): MetricOptions {
    if (this.stageName === undefined) return options;
    return { ...options, dimensionsMap: { ApiName: this.restApi.restApiName, Stage: this.stageName } };
  }
}

/** A Postroom custom metric, under the dimension Powertools adds for the emitting function's service. */
function postroomMetric(
  metricName: MetricName | DurationMetricName,
  service: (typeof SERVICE)[keyof typeof SERVICE],
  label: string,
  statistic: string = Stats.SUM,
): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic,
    period: Duration.minutes(5),
    label,
  });
}

/** A dimensioned count, one metric per value of its fixed list, each under the emitting service. */
function byDimension(
  metricName: keyof typeof METRIC_DIMENSION,
  service: (typeof SERVICE)[keyof typeof SERVICE],
): Metric[] {
  const dimension = METRIC_DIMENSION[metricName];
  return dimension.values.map(
    (value) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName,
        dimensionsMap: { service, [dimension.name]: value },
        statistic: Stats.SUM,
        period: Duration.minutes(5),
        label: value,
      }),
  );
}

/** An SES reputation rate; without dimensions, the account's, which is what SES reviews. */
function sesReputation(metricName: string, options: MetricOptions = {}): Metric {
  return new Metric({
    namespace: 'AWS/SES',
    metricName,
    statistic: Stats.MAXIMUM,
    period: Duration.hours(1),
    ...options,
  });
}

function graph(title: string, metrics: IMetric[], width: number): GraphWidget {
  return new GraphWidget({ title, left: metrics, width, height: 6 });
}
