import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { buildApp, PostroomStack } from '../../infra/postroom-stack';

/** Values unlike the schema's defaults, so each test proves the configuration reaches the resource. */
const rawConfig = {
  region: 'eu-west-1',
  sender: 'Postroom <no-reply@mail.example.com>',
  transport: { kind: 'ses', configurationSet: 'postroom-events' },
  queue: { maxReceiveCount: 7, batchSize: 5, maxConcurrency: 3 },
  relay: { timeoutSeconds: 40, claimLeaseSeconds: 120 },
  forms: [{ id: 'contact', recipients: ['owner@example.com'], subject: 'New message from {{name}}' }],
};

// Synthesis bundles both functions with esbuild: build the template once for the whole file.
const SYNTH_TIMEOUT_MS = 300_000;

describe('Stack: Postroom', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let template: Template;

  beforeAll(() => {
    // Prepare
    const { stack } = buildApp(rawConfig, new App());

    // Act
    template = Template.fromStack(stack);
  }, SYNTH_TIMEOUT_MS);

  it('dead-letters a mail job after the configured number of receives', () => {
    // Assess
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 7,
      },
    });
  });

  it('keeps a received mail job invisible for at least six relay timeouts', () => {
    // Prepare
    const mailQueues = Object.values(
      template.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.anyValue() } }),
    );

    // Assess
    expect(mailQueues).toHaveLength(1);
    expect(mailQueues[0]?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 40);
  });

  it('reports partial batch failures and caps the relay concurrency', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });

  it('encrypts the mail queue at rest and refuses requests without TLS', () => {
    // Assess
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.anyValue(),
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: Match.stringLikeRegexp('MailQueue') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('keeps dead-lettered mail for fourteen days', () => {
    // Assess
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.absent(),
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('expires idempotency records by TTL and keeps point-in-time recovery', () => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('runs the three functions (send, relay, events) on Node.js 22 on ARM64', () => {
    // Assess
    template.resourceCountIs('AWS::Lambda::Function', 3);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
    });
  });

  it('allows SES sends only as the sender identity and through the configuration set', () => {
    // Prepare
    const sesStatements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => [statement.Action].flat().some((action: string) => action.startsWith('ses:')));
    const resources = sesStatements.flatMap((statement) => [statement.Resource].flat());

    // Assess
    expect(sesStatements).toHaveLength(1);
    expect(resources).not.toContain('*');
    const shown = resources.map((resource) => JSON.stringify(resource));
    expect(shown).toHaveLength(3);
    expect(shown).toEqual(
      expect.arrayContaining([
        expect.stringContaining(':ses:eu-west-1:",{"Ref":"AWS::AccountId"},":identity/mail.example.com"'),
        expect.stringContaining(':identity/no-reply@mail.example.com"'),
        expect.stringContaining(':configuration-set/postroom-events"'),
      ]),
    );
  });

  it('lets the send function only write its own log, trace, enqueue, touch its guard items and store attachments', () => {
    // Assess
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^ApiSend') }],
      PolicyDocument: {
        Statement: Match.arrayEquals([
          {
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiSendLogs'), 'Arn'] },
          },
          Match.objectLike({ Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'] }),
          {
            Effect: 'Allow',
            Action: ['sqs:GetQueueAttributes', 'sqs:SendMessage'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('MailQueue'), 'Arn'] },
          },
          {
            Effect: 'Allow',
            Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StoreTable'), 'Arn'] },
            Condition: {
              'ForAllValues:StringLike': {
                'dynamodb:LeadingKeys': ['rate#*', 'dup#*', 'captcha#*', 'auto#*', 'msg#*', 'idem#*'],
              },
            },
          },
          {
            Effect: 'Allow',
            Action: 'dynamodb:DeleteItem',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StoreTable'), 'Arn'] },
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['dup#*', 'idem#*'] } },
          },
          {
            Effect: 'Allow',
            Action: 'dynamodb:GetItem',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StoreTable'), 'Arn'] },
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['apikey#*', 'supp#*'] } },
          },
          {
            Effect: 'Allow',
            Action: 's3:PutObject',
            Resource: {
              'Fn::Join': [
                '',
                [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^AttachmentsBucket'), 'Arn'] }, '/attachments/*'],
              ],
            },
          },
          // Scheduled send: the schedules of the stack's group, run as the scheduler role and no other.
          {
            Effect: 'Allow',
            Action: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
            Resource: Match.objectLike({
              'Fn::Join': [
                '',
                Match.arrayWith([Match.stringLikeRegexp(':schedule/Postroom-Scheduling-Group-')]),
              ],
            }),
          },
          {
            Effect: 'Allow',
            Action: 'iam:PassRole',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SchedulingRole'), 'Arn'] },
            Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
          },
        ]),
      },
    });
  });

  it('uses the named configuration set instead of creating one', () => {
    // Assess
    template.resourceCountIs('AWS::SES::ConfigurationSet', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SES_CONFIGURATION_SET: 'postroom-events' }) },
    });
  });

  it('accepts messages up to the SQS maximum of 1 MiB on both queues, room for the largest mail job', () => {
    // Assess
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { MaximumMessageSize: 1_048_576 }, 2);
  });

  it('publishes the URLs an operator needs as stack outputs', () => {
    // Assess
    // No DashboardUrl: the dashboard exists at monitoring.level full only.
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
      'AlarmTopicArn',
      'ApiUrl',
      'DeadLetterQueueUrl',
      'DeliveryEventsTopicArn',
      'FormEndpointContact',
      'QueueUrl',
      'SesConfigurationSet',
      'TableName',
    ]);
  });

  it('names the record table and the configuration set in outputs, for postroom --stack', () => {
    // Assess
    template.hasOutput('TableName', { Value: { Ref: Match.stringLikeRegexp('StoreTable') } });
    template.hasOutput('SesConfigurationSet', { Value: 'postroom-events' });
  });

  it('traces 5 % of API requests by default, the send function following that decision and allowed to write its trace segments', () => {
    // Prepare: the three Postroom functions, by their descriptions (CDK adds functions of its own)
    const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, fn]) =>
      String(fn.Properties?.Description).startsWith('Postroom '),
    );
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));

    // Assess: the stage samples by its own rule, with no reservoir (X-Ray's default traces nearly every
    // request of a quiet API); the functions record a segment when the request was sampled, and Lambda runs
    // the daemon the subsegments go to
    template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    template.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: Match.objectLike({
        FixedRate: 0.05,
        ReservoirSize: 0,
        ServiceType: 'AWS::ApiGateway::Stage',
      }),
    });
    expect(functions).toHaveLength(3);
    // The relay and events functions would trace nearly every invocation under Lambda's fixed rule: full only.
    const untraced = functions.filter(
      ([, fn]) => !String(fn.Properties.Description).startsWith('Postroom send'),
    );
    expect(untraced.map(([, fn]) => fn.Properties.TracingConfig)).toEqual([undefined, undefined]);
    for (const [id, fn] of functions.filter((entry) => !untraced.includes(entry))) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'PassThrough' });
      const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const traceGrant = policies.some(
        (policy) =>
          JSON.stringify(policy.Properties.Roles).includes(role) &&
          JSON.stringify(policy.Properties.PolicyDocument.Statement).includes(
            '"Action":["xray:PutTelemetryRecords","xray:PutTraceSegments"]',
          ),
      );
      expect(traceGrant, id).toBe(true);
    }
  });

  it('fails to build with a message naming the bad config field', () => {
    // Prepare
    const badConfig = {
      ...rawConfig,
      forms: [{ ...rawConfig.forms[0], recipients: ['not-an-address'] }],
    };

    // Act & Assess
    expect(() => buildApp(badConfig, new App())).toThrow('postroom.forms["contact"].recipients[0]');
  });

  it("builds each stack's validated configuration into its functions' code, so no cold start validates it again", () => {
    // Prepare: two stacks in one app (say staging and production) with different configurations
    const otherConfig = { ...rawConfig, queue: { ...rawConfig.queue, maxReceiveCount: 9 } };
    const { app, stack } = buildApp(rawConfig, new App());
    const other = new PostroomStack(app, 'PostroomOther', { config: parseConfig(otherConfig) });
    const shippedConfigs = (built: Stack) =>
      Object.values(Template.fromStack(built).findResources('AWS::Lambda::Function'))
        .filter((fn) => String(fn.Properties?.Description).startsWith('Postroom '))
        .map((fn) => {
          // The code's S3 key is `<asset hash>.zip`; CDK stages the asset as `asset.<hash>` in the app's outdir.
          const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
          const assetDir = path.join(app.outdir, `asset.${hash}`);
          return JSON.parse(readFileSync(path.join(assetDir, 'config.json'), 'utf8')) as unknown;
        });

    // Act
    const first = shippedConfigs(stack);
    const second = shippedConfigs(other);

    // Assess: CDK reuses a bundle within an app; each stack still gets its own configuration
    expect(first).toEqual([parseConfig(rawConfig), parseConfig(rawConfig), parseConfig(rawConfig)]);
    expect(second).toEqual([parseConfig(otherConfig), parseConfig(otherConfig), parseConfig(otherConfig)]);
  });

  it("synthesizes a configuration larger than Lambda's 4 KB of environment: it is not in the environment", () => {
    // Prepare: 40 forms, each with its own origins and redirect
    const forms = Array.from({ length: 40 }, (_, i) => ({
      ...rawConfig.forms[0],
      id: `form-${i}`,
      allowedOrigins: [`https://site-${i}.example.com`],
      redirectUrl: `https://site-${i}.example.com/thanks`,
    }));
    const large = { ...rawConfig, forms };
    expect(JSON.stringify(large).length).toBeGreaterThan(4 * 1024);

    // Act
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(large, app);

    // Assess
    const environments = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
      .filter((fn) => String(fn.Properties?.Description).startsWith('Postroom '))
      .map((fn) => JSON.stringify(fn.Properties.Environment?.Variables ?? {}));
    expect(environments).toHaveLength(3);
    for (const environment of environments) expect(environment).not.toContain('form-39');
  });
});
