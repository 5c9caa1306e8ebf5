import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  defaultConfig,
  SYNTH_TIMEOUT_MS,
  smtpConfig,
  statementsOfRole,
  synthesize,
} from './stack-fixture';

describe('Construct: DeliveryEvents', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let byDefault: Template;
  let existingSet: Template;
  let smtp: Template;

  beforeAll(() => {
    // Prepare & Act
    byDefault = synthesize(defaultConfig).template;
    existingSet = synthesize({
      ...defaultConfig,
      transport: { kind: 'ses', configurationSet: 'my-existing-set' },
    }).template;
    smtp = synthesize(smtpConfig).template;
  }, SYNTH_TIMEOUT_MS);

  it('publishes delivery, bounce, complaint and reject events of the created configuration set to the topic', () => {
    // Assess
    byDefault.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      ConfigurationSetName: { Ref: Match.stringLikeRegexp('^MailProviderConfigurationSet') },
      EventDestination: {
        Enabled: true,
        MatchingEventTypes: ['delivery', 'bounce', 'complaint', 'reject'],
        SnsDestination: { TopicARN: { Ref: Match.stringLikeRegexp('^DeliveryEventsTopic') } },
      },
    });
  });

  it('makes no key by default: the topic is not encrypted at rest and refuses anything but TLS', () => {
    // Assess
    byDefault.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Postroom SES delivery events',
      KmsMasterKeyId: Match.absent(),
    });
    byDefault.resourceCountIs('AWS::KMS::Key', 0);
  });

  it('encrypts the topic with a rotated customer-managed key that SES may use, with monitoring.encryptTopics', () => {
    // Act
    const encrypted = synthesize({ ...defaultConfig, monitoring: { encryptTopics: true } }).template;

    // Assess
    encrypted.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Postroom SES delivery events',
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeliveryEventsTopicKey'), 'Arn'] },
    });
    encrypted.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Postroom: encrypts the SES delivery events topic',
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'ses.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('lets SES publish to the topic for its configuration set only, and refuses plain HTTP', () => {
    // Assess
    byDefault.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: Match.stringLikeRegexp('^DeliveryEventsTopic') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'ses.amazonaws.com' },
            Condition: { StringEquals: Match.objectLike({ 'AWS:SourceArn': Match.anyValue() }) },
          }),
        ]),
      },
    });
  });

  it('subscribes the events function, which reads the table name from its environment', () => {
    // Assess
    byDefault.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: Match.stringLikeRegexp('^DeliveryEventsTopic') },
      Endpoint: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeliveryEventsFunction'), 'Arn'] },
    });
    byDefault.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Postroom events'),
      Environment: {
        Variables: Match.objectLike({ TABLE_NAME: { Ref: Match.stringLikeRegexp('^StoreTable') } }),
      },
    });
  });

  it('lets the events function only update message status and put suppressed addresses', () => {
    // Prepare
    const tableStatements = statementsOfRole(byDefault, 'DeliveryEventsRole').filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('dynamodb:')),
    );
    const table = { 'Fn::GetAtt': [expect.stringMatching(/^StoreTable/), 'Arn'] };

    // Assess
    expect(tableStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: table,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['msg#*'] } },
      },
      {
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: table,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['supp#*'] } },
      },
    ]);
  });

  it('grants the events function no wildcard resource: at the essential level it does not trace', () => {
    // Prepare
    const wildcardActions = statementsOfRole(byDefault, 'DeliveryEventsRole')
      .filter((statement) => [statement.Resource].flat().includes('*'))
      .flatMap(actionsOf);

    // Assess: X-Ray's actions (which have no resource scope) come with tracing, at monitoring.level full
    expect(wildcardActions).toEqual([]);
  });

  it('adds no destination to a configuration set it does not own, but still creates the topic and function', () => {
    // Assess
    existingSet.resourceCountIs('AWS::SES::ConfigurationSetEventDestination', 0);
    existingSet.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'Postroom SES delivery events' });
    existingSet.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Postroom events'),
    });
    existingSet.hasOutput('DeliveryEventsTopicArn', {
      Description: Match.stringLikeRegexp('^Add an SNS event destination'),
    });
  });

  it('lets SES publish to the topic for the named existing configuration set, whose destination the operator adds', () => {
    // Assess
    existingSet.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: Match.stringLikeRegexp('^DeliveryEventsTopic') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'ses.amazonaws.com' },
            Condition: {
              StringEquals: {
                'AWS:SourceAccount': { Ref: 'AWS::AccountId' },
                'AWS:SourceArn': {
                  'Fn::Join': [
                    '',
                    Match.arrayWith([Match.stringLikeRegexp(':configuration-set/my-existing-set$')]),
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it('creates no events topic or function for the SMTP transport, which publishes no events', () => {
    // Assess
    smtp.resourceCountIs('AWS::SES::ConfigurationSetEventDestination', 0);
    expect(
      smtp.findResources('AWS::SNS::Topic', { Properties: { DisplayName: 'Postroom SES delivery events' } }),
    ).toEqual({});
    expect(Object.keys(smtp.findOutputs('DeliveryEventsTopicArn'))).toEqual([]);
  });
});
