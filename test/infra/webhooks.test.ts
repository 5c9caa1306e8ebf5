import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { actionsOf, defaultConfig, SYNTH_TIMEOUT_MS, statementsOfRole, synthesize } from './stack-fixture';

// At the `full` monitoring level, where the dashboard exists (the default, `essential`, has none).
const fullMonitoring = { ...defaultConfig, monitoring: { level: 'full' } };

const webhooksConfig = {
  ...fullMonitoring,
  webhooks: [
    {
      id: 'crm',
      url: 'https://crm.example.com/hooks/postroom',
      events: ['submission.received', 'email.bounced'],
      secret: 'postroom/webhooks/crm',
    },
  ],
};

describe('Construct: Webhooks', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let template: Template;
  let without: Template;

  beforeAll(() => {
    // Prepare & Act
    template = synthesize(webhooksConfig).template;
    without = synthesize(fullMonitoring).template;
  }, SYNTH_TIMEOUT_MS);

  it('builds nothing for webhooks when the config has none', () => {
    // Assess
    // The mail queue and its DLQ (which the scheduler's undeliverable jobs go to as well).
    without.resourceCountIs('AWS::SQS::Queue', 2);
    expect(JSON.stringify(without.toJSON())).not.toContain('WEBHOOK_QUEUE_URL');
  });

  it('gives the webhook queue a dead-letter queue and keeps both for 14 days', () => {
    // Assess
    // Those two, and the webhook queue with its DLQ.
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 1_209_600,
      VisibilityTimeout: 360,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhooksDeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 12,
      },
    });
  });

  it('drains the webhook queue with partial batch failures', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhooksQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('lets the dispatcher touch only its own items in the record table', () => {
    // Prepare
    const table = statementsOfRole(template, 'WebhooksDispatcherRole').filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('dynamodb:')),
    );

    // Assess
    expect(table).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StoreTable/), 'Arn'] },
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['whevt#*', 'whep#*'] } },
      },
    ]);
  });

  it('lets the dispatcher read its endpoint secret and nothing else from Secrets Manager', () => {
    // Prepare
    const secrets = statementsOfRole(template, 'WebhooksDispatcherRole').filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
    );

    // Assess
    expect(secrets).toHaveLength(1);
    expect(JSON.stringify(secrets[0]?.Resource)).toContain('secret:postroom/webhooks/crm-??????');
  });

  it('lets the send, relay and events functions send to the webhook queue, and tells them where it is', () => {
    // Prepare
    const producers = ['ApiSendRole', 'RelayRole', 'DeliveryEventsRole'];

    // Assess
    for (const role of producers) {
      const sends = statementsOfRole(template, role).filter(
        (statement) =>
          actionsOf(statement).includes('sqs:SendMessage') &&
          JSON.stringify(statement.Resource).includes('WebhooksQueue'),
      );
      expect(sends, role).toHaveLength(1);
    }
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    const withQueue = functions.filter((fn) => fn.Properties.Environment?.Variables?.WEBHOOK_QUEUE_URL);
    expect(withQueue).toHaveLength(4);
  });

  it('alarms on a non-empty webhooks dead-letter queue and on a disabled endpoint, to the alarm topic', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhooksDeadLetterQueue'), 'QueueName'] },
        },
      ],
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'WebhookEndpointDisabled',
      Dimensions: [{ Name: 'service', Value: 'postroom-webhooks' }],
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
    });
  });

  it('charts each endpoint on the dashboard, one line per outcome, and nothing of webhooks without them', () => {
    // Prepare
    const bodyOf = (t: Template) =>
      JSON.stringify(
        Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
      );
    const body = bodyOf(template);
    const charted = (name: string) =>
      body.includes(
        `[\\"Postroom\\",\\"${name}\\",\\"endpoint\\",\\"crm\\",\\"service\\",\\"postroom-webhooks\\"`,
      );

    // Assess
    expect(body).toContain('Webhooks to crm');
    for (const name of [
      'WebhookDelivered',
      'WebhookRetried',
      'WebhookDeadLettered',
      'WebhookEndpointDisabled',
    ]) {
      expect(charted(name), name).toBe(true);
    }
    expect(bodyOf(without)).not.toContain('Webhook');
  });

  it('never lets a deployed dispatcher post to loopback: the local-only switch is not in the template', () => {
    // Assess: functions/webhooks/index.ts turns the SSRF guard off only when the local stack sets this
    expect(JSON.stringify(template.toJSON())).not.toContain('POSTROOM_LOCAL_WEBHOOKS');
  });

  it('refuses a plain http endpoint at synth', () => {
    // Act & Assess
    expect(() =>
      synthesize({
        ...webhooksConfig,
        webhooks: [{ ...webhooksConfig.webhooks[0], url: 'http://127.0.0.1:9000/hook' }],
      }),
    ).toThrow(/must use an https URL on AWS/);
  });
});
