import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { MockIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import type { PostroomConfig } from '../../functions/core/config/config';
import {
  DURATION_METRIC,
  FAILURE_REASONS,
  METRIC,
  METRIC_NAMESPACE,
  REFUSAL_KINDS,
  REJECTION_REASONS,
  SERVICE,
  SESSION_FAILURES,
  SPAM_GUARDS,
} from '../../functions/core/metrics';
import { Monitoring } from '../../infra/constructs/monitoring';

/** Thresholds unlike the schema's defaults, so each test proves the configuration reaches the alarm. */
const monitoring: PostroomConfig['monitoring'] = {
  level: 'full',
  encryptTopics: true,
  traceSamplePercent: 5,
  alarmEmail: 'ops@example.com',
  oldestMessageAgeSeconds: 1_234,
  relayErrorRatePercent: 7,
  apiServerErrors: 9,
  bounceRatePercent: 5,
  complaintRatePercent: 0.1,
  logRetentionDays: 30,
};

/** A stack with stand-ins for the real resources: inline functions and a mock method, so nothing is bundled. */
function synth(
  options: {
    monitoring?: Partial<PostroomConfig['monitoring']>;
    stageName?: string;
    sesConfigurationSetName?: string;
    providerIds?: string[];
    smtpTransport?: boolean;
  } = {},
): { template: Template; construct: Monitoring } {
  const stack = new Stack(new App(), 'MonitoringTest', {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const restApi = new RestApi(stack, 'Api', { cloudWatchRole: false });
  restApi.root.addMethod('GET', new MockIntegration());
  const fn = (id: string) =>
    new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('export const handler = async () => {};'),
    });
  const construct = new Monitoring(stack, 'Monitoring', {
    restApi,
    mailQueue: new Queue(stack, 'MailQueue'),
    deadLetterQueue: new Queue(stack, 'DeadLetterQueue'),
    relayFunction: fn('Relay'),
    sendFunction: fn('Send'),
    monitoring: { ...monitoring, ...options.monitoring },
    stageName: options.stageName,
    sesConfigurationSetName: options.sesConfigurationSetName,
    providerIds: options.providerIds,
    smtpTransport: options.smtpTransport ?? true,
  });
  return { template: Template.fromStack(stack), construct };
}

// One synthesis serves the tests that only read the full template (level full, SMTP, encrypted topic).
const { template, construct } = synth();
const topicRef = Stack.of(construct).resolve(construct.alarmTopic.topicArn);

describe('Construct: Monitoring', () => {
  it('alarms, and reports recovery, as soon as one mail job is in the dead-letter queue', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetterQueue'), 'QueueName'] },
        },
      ],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef],
      OKActions: [topicRef],
    });
  });

  it('alarms when the oldest queued mail is older than the configured age', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MailQueue'), 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1_234,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms on the relay error rate as a percentage of invocations, by metric math', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 7,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({
          Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
          ReturnData: true,
        }),
        Match.objectLike({
          Id: 'invocations',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Invocations' }) }),
        }),
        Match.objectLike({
          Id: 'errors',
          ReturnData: false,
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({
              Namespace: 'AWS/Lambda',
              MetricName: 'Errors',
              Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^Relay') } }],
            }),
            Period: 300,
            Stat: 'Sum',
          }),
        }),
      ]),
    });
  });

  it('alarms when the API answers more than the configured number of 5xx in five minutes', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: 'Api' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 9,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('watches one stage of the API when a stage name is given', () => {
    // Act
    const { template: oneStage } = synth({ stageName: 'prod' });

    // Assess
    oneStage.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Dimensions: Match.arrayWith([
        { Name: 'ApiName', Value: 'Api' },
        { Name: 'Stage', Value: 'prod' },
      ]),
    });
  });

  it('compares the SES bounce and complaint rates as fractions of one', () => {
    // Prepare
    const sesAlarm = (metricName: string, threshold: number) => ({
      Namespace: 'AWS/SES',
      MetricName: metricName,
      Dimensions: Match.absent(),
      Statistic: 'Maximum',
      Period: 3_600,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', sesAlarm('Reputation.BounceRate', 0.05));
    template.hasResourceProperties('AWS::CloudWatch::Alarm', sesAlarm('Reputation.ComplaintRate', 0.001));
  });

  it('sends every alarm to the alarm topic', () => {
    // Prepare
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));

    // Assess
    expect(alarms).toHaveLength(7);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
  });

  it('describes what each alarm means and what to do', () => {
    // Prepare
    const descriptions = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties.AlarmDescription as unknown,
    );

    // Assess
    expect(descriptions).toHaveLength(7);
    for (const description of descriptions) expect(description).toMatch(/^Postroom: .{80,}/);
  });

  it('mails the alarms to the configured address', () => {
    // Assess
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: topicRef,
    });
  });

  it('subscribes no address when none is configured', () => {
    // Act
    const { template: withoutEmail } = synth({ monitoring: { alarmEmail: undefined } });

    // Assess
    withoutEmail.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('encrypts the alarm topic with a rotated key that CloudWatch may use for this account only', () => {
    // Assess
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringAlarmTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } }),
          }),
        ]),
      },
    });
  });

  it('lets CloudWatch alarms publish to the topic and refuses publishing without TLS', () => {
    // Assess
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: {
              StringEquals: { 'aws:SourceAccount': '123456789012' },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:123456789012:alarm:*'],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it('charts every custom metric under the service that emits it', () => {
    // Prepare
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    const charted = (name: string, service: string) =>
      body.includes(`[\\"${METRIC_NAMESPACE}\\",\\"${name}\\",\\"service\\",\\"${service}\\"`);

    // Assess
    for (const name of [METRIC.accepted, METRIC.rejected, METRIC.spamBlocked]) {
      expect(charted(name, SERVICE.send), name).toBe(true);
    }
    for (const name of [METRIC.sent, METRIC.retried, METRIC.failed, METRIC.duplicate]) {
      expect(charted(name, SERVICE.relay), name).toBe(true);
    }
    for (const name of [DURATION_METRIC.sendLatency, DURATION_METRIC.queueToSentLatency]) {
      expect(charted(name, SERVICE.relay), name).toBe(true);
    }
    // Latencies are charted as percentiles, not summed.
    expect(body).toContain('\\"stat\\":\\"p99\\"');
  });

  it('charts rejections by reason, spam by guard and dead letters by reason, one line per fixed value', () => {
    // Prepare
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    const chartedBy = (name: string, service: string, dimension: string, value: string) =>
      body.includes(
        `[\\"${METRIC_NAMESPACE}\\",\\"${name}\\",\\"${dimension}\\",\\"${value}\\",\\"service\\",\\"${service}\\"`,
      ) ||
      body.includes(
        `[\\"${METRIC_NAMESPACE}\\",\\"${name}\\",\\"service\\",\\"${service}\\",\\"${dimension}\\",\\"${value}\\"`,
      );

    // Assess
    for (const reason of REJECTION_REASONS) {
      expect(chartedBy(METRIC.rejected, SERVICE.send, 'reason', reason), reason).toBe(true);
    }
    for (const guard of SPAM_GUARDS) {
      expect(chartedBy(METRIC.spamBlocked, SERVICE.send, 'guard', guard), guard).toBe(true);
    }
    for (const reason of FAILURE_REASONS) {
      expect(chartedBy(METRIC.failed, SERVICE.relay, 'reason', reason), reason).toBe(true);
    }
    for (const kind of REFUSAL_KINDS) {
      expect(chartedBy(METRIC.recipientRefused, SERVICE.relay, 'kind', kind), kind).toBe(true);
    }
    for (const stage of SESSION_FAILURES) {
      expect(chartedBy(METRIC.relaySessionFailed, SERVICE.relay, 'stage', stage), stage).toBe(true);
    }
  });

  it('alarms at the first SMTP session that could not be made safe (STARTTLS, TLS, AUTH) in 5 minutes', () => {
    // Assess: the relay's total, so a failure at any stage counts
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRIC_NAMESPACE,
      MetricName: METRIC.relaySessionFailed,
      Dimensions: [{ Name: 'service', Value: SERVICE.relay }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef],
      AlarmDescription: Match.stringLikeRegexp('never sent in plaintext'),
    });
  });

  describe('failover (docs/failover.md)', () => {
    // A construct with two providers: a small stack of stand-ins, no bundling.
    const failover = synth({ providerIds: ['ses', 'backup'] });
    const failoverTopic = Stack.of(failover.construct).resolve(failover.construct.alarmTopic.topicArn);

    it.each([
      [METRIC.breakerOpen, 'circuit breaker opened'],
      [METRIC.providerAccountError, 'will not pass by itself'],
    ])('alarms at the first %s in 5 minutes, to the alarm topic', (metricName, words) => {
      failover.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRIC_NAMESPACE,
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: SERVICE.relay }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [failoverTopic],
        AlarmDescription: Match.stringLikeRegexp(words),
      });
    });

    it('charts FailedOver, BreakerOpen, ProviderAccountError and UncertainSend per provider', () => {
      const body = JSON.stringify(
        Object.values(failover.template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties
          .DashboardBody,
      );
      for (const name of [
        METRIC.failedOver,
        METRIC.breakerOpen,
        METRIC.providerAccountError,
        METRIC.uncertainSend,
      ])
        for (const provider of ['ses', 'backup'])
          expect(
            body.includes(
              `[\\"${METRIC_NAMESPACE}\\",\\"${name}\\",\\"provider\\",\\"${provider}\\",\\"service\\",\\"${SERVICE.relay}\\"`,
            ),
            `${name} ${provider}`,
          ).toBe(true);
    });

    it('has neither alarm nor the widgets with one provider', () => {
      for (const metricName of [METRIC.breakerOpen, METRIC.providerAccountError])
        expect(
          Object.keys(
            template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metricName } }),
          ),
        ).toEqual([]);
      expect(construct.alarms.breakerOpen).toBeUndefined();
    });
  });

  it('reads no custom metric in an alarm without the dimensions it is emitted with', () => {
    // Prepare: every alarm on a Postroom metric, with the dimension names it reads
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties as Record<string, unknown>,
    );
    const reads = alarms.flatMap((alarm) => {
      const queries = (alarm.Metrics as Array<{ MetricStat?: { Metric: Record<string, unknown> } }>) ?? [];
      const metrics = [
        alarm,
        ...queries.flatMap((query) => (query.MetricStat ? [query.MetricStat.Metric] : [])),
      ];
      return metrics
        .filter((metric) => metric.Namespace === METRIC_NAMESPACE)
        .map((metric) => ({
          name: metric.MetricName,
          dimensions: ((metric.Dimensions as Array<{ Name: string }>) ?? []).map((d) => d.Name).sort(),
        }));
    });

    // Assess: a total is emitted under `service` alone; a dimensioned series only with its one extra name
    for (const read of reads) {
      expect([['service'], ['reason', 'service'], ['guard', 'service']]).toContainEqual(read.dimensions);
    }
    // The dead-letter alarm reads the queue, not MailFailed: it sees every dead letter whatever its reason.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetterQueue'), 'QueueName'] },
        },
      ],
    });
  });

  it("charts the configuration set's reputation beside the account's when one is given", () => {
    // Act
    const { template: withSet } = synth({ sesConfigurationSetName: 'postroom-events' });
    const body = JSON.stringify(withSet.toJSON());

    // Assess
    expect(body).toContain('\\"Reputation.BounceRate\\",\\"ses:configuration-set\\",\\"postroom-events\\"');
    expect(body).toContain(
      '\\"Reputation.ComplaintRate\\",\\"ses:configuration-set\\",\\"postroom-events\\"',
    );
  });

  it('shows the state of every alarm on the dashboard', () => {
    // Prepare
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));

    // Assess
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    for (const id of alarmIds) expect(body).toContain(`{"Fn::GetAtt":["${id}","Arn"]}`);
  });

  it('lets CloudFormation name the dashboard and links to it in the console', () => {
    // Prepare
    const stack = Stack.of(construct);

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: Match.absent() });
    expect(stack.resolve(construct.dashboardUrl)).toEqual({
      'Fn::Join': [
        '',
        [
          'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=',
          stack.resolve(construct.dashboard?.dashboardName),
        ],
      ],
    });
  });

  describe('at the essential level, with SES and no topic encryption (the defaults)', () => {
    const essential = synth({
      monitoring: { level: 'essential', encryptTopics: false },
      smtpTransport: false,
    });
    const alarmIds = () => Object.keys(essential.template.findResources('AWS::CloudWatch::Alarm'));

    it('keeps the alarms that protect the mail and the SES account, and only those', () => {
      // Assess: dead letters, stuck mail, relay errors, bounce rate, complaint rate
      expect(
        alarmIds()
          .map((id) => id.replace(/^Monitoring|[0-9A-F]{8}$/g, ''))
          .sort(),
      ).toEqual([
        'BounceRateAlarm',
        'ComplaintRateAlarm',
        'DeadLettersAlarm',
        'OldestMessageAlarm',
        'RelayErrorRateAlarm',
      ]);
      expect(Object.keys(essential.construct.alarms).sort()).toEqual([
        'bounceRate',
        'complaintRate',
        'deadLetters',
        'oldestMessage',
        'relayErrors',
      ]);
    });

    it('has no dashboard, and widgets added by other constructs go nowhere', () => {
      // Act
      essential.construct.addWidgets();

      // Assess
      essential.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
      expect(essential.construct.dashboard).toBeUndefined();
      expect(essential.construct.dashboardUrl).toBeUndefined();
    });

    it('makes no KMS key and leaves the topic refusing anything but TLS', () => {
      // Assess
      essential.template.resourceCountIs('AWS::KMS::Key', 0);
      essential.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.absent() });
      essential.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('reads no custom metric in any alarm, so a quiet month bills no metric', () => {
      // Assess
      expect(JSON.stringify(essential.template.findResources('AWS::CloudWatch::Alarm'))).not.toContain(
        `"Namespace":"${METRIC_NAMESPACE}"`,
      );
    });
  });
});
