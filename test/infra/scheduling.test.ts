import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, SYNTH_TIMEOUT_MS, synthesize } from './stack-fixture';

describe('Construct: Scheduling', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let template: Template;

  beforeAll(() => {
    // Prepare & Act
    template = synthesize(defaultConfig).template;
  }, SYNTH_TIMEOUT_MS);

  const schedulerRolePolicy = () =>
    Object.values(template.findResources('AWS::IAM::Policy')).find((policy) =>
      JSON.stringify(policy.Properties.Roles).includes('SchedulingRole'),
    );

  it('has one schedule group for the stack, its name generated', () => {
    // Assess
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', {
      Name: Match.stringLikeRegexp('^Postroom-Scheduling-Group-'),
    });
  });

  it("lets only EventBridge Scheduler assume the role, for this account's schedules in the group", () => {
    // Assess
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^Postroom scheduler'),
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': Match.anyValue() },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            },
          },
        ],
      },
    });
  });

  it('lets the role send to the mail queue and its dead-letter queue, and do nothing else', () => {
    // Assess
    expect(schedulerRolePolicy()?.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: [
          { 'Fn::GetAtt': [expect.stringMatching(/^QueueingDeadLetterQueue/), 'Arn'] },
          { 'Fn::GetAtt': [expect.stringMatching(/^QueueingMailQueue/), 'Arn'] },
        ],
      },
    ]);
  });

  it("sends jobs the scheduler could not deliver to the mail's dead-letter queue, under its alarm, and makes no queue of its own", () => {
    // Assess: three queues in all (mail, its dead letters, webhooks absent here), and the dead-letter alarm
    // reads the queue the scheduler's jobs go to
    expect(Object.keys(template.findResources('AWS::SQS::Queue')).sort()).toEqual([
      expect.stringMatching(/^QueueingDeadLetterQueue/),
      expect.stringMatching(/^QueueingMailQueue/),
    ]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QueueingDeadLetterQueue'), 'QueueName'] },
        },
      ],
      AlarmDescription: Match.stringLikeRegexp('a scheduled job EventBridge Scheduler could not put'),
    });
  });

  it('gives the send function the group, the target queue, the role and the dead-letter queue', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Postroom send'),
      Environment: {
        Variables: Match.objectLike({
          SCHEDULE_GROUP: Match.stringLikeRegexp('^Postroom-Scheduling-Group-'),
          MAIL_QUEUE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QueueingMailQueue'), 'Arn'] },
          SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SchedulingRole'), 'Arn'] },
          SCHEDULE_DLQ_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QueueingDeadLetterQueue'), 'Arn'] },
        }),
      },
    });
  });
});
