import { Stack, Token, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface SchedulingProps {
  /** The mail queue the schedules put their jobs on. */
  readonly mailQueue: IQueue;
  /**
   * Where a job goes that the scheduler could not put on the mail queue: the mail's own dead-letter queue.
   * Its alarm, `postroom dlq list` and `postroom dlq redrive` then cover scheduled jobs too (a redrive puts
   * the job on the mail queue, which is what the schedule was to do), and a separate queue and alarm would
   * add $0.10 a month to every deployment for a fault that needs a deleted queue or a changed role.
   */
  readonly deadLetterQueue: IQueue;
}

/**
 * Scheduled send beyond SQS's 15-minute delay (docs/scheduling.md): a schedule group for the stack's one-time
 * schedules, the role EventBridge Scheduler assumes to put a job on the mail queue, and the dead-letter queue
 * for jobs it could not deliver (the mail's own). The send function creates and deletes the schedules (grantSchedules).
 */
export class Scheduling extends Construct {
  readonly group: ScheduleGroup;
  /** The role the schedules run as: sqs:SendMessage on the mail queue and this dead-letter queue, nothing else. */
  readonly role: Role;
  /** Jobs the scheduler could not put on the mail queue, after its retries: the mail's dead-letter queue. */
  readonly deadLetterQueue: IQueue;

  constructor(scope: Construct, id: string, props: SchedulingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.group = new ScheduleGroup(this, 'Group');
    this.deadLetterQueue = props.deadLetterQueue;
    // Confused-deputy protection: only this account's schedules in this group may assume the role.
    // https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
    this.role = new Role(this, 'Role', {
      description: 'Postroom scheduler: puts scheduled mail jobs on the mail queue',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': this.scheduleArns() },
        },
      }),
    });
    // The mail queue and the dead-letter queue are SQS-managed encrypted (SSE-SQS): no KMS grant is needed.
    // The scheduler delivers to its dead-letter queue with the schedule's role.
    // https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
    props.mailQueue.grant(this.role, 'sqs:SendMessage');
    this.deadLetterQueue.grant(this.role, 'sqs:SendMessage');
  }

  /** Every schedule in the group: the send function names each by message and time. */
  scheduleArns(): string {
    return Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.group.scheduleGroupName}/*`,
    });
  }

  /** What the send function needs: create and delete the group's schedules, and pass them the role. */
  grantSchedules(grantee: IFunction): void {
    // cdk-nag names the finding by the resource as synthesized, pseudo-parameters in angle brackets.
    const stack = Stack.of(this);
    const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    Validations.of(grantee.role ?? grantee).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${shown(stack.partition, 'Partition')}:scheduler:${shown(stack.region, 'Region')}:${shown(stack.account, 'AccountId')}:schedule/${this.group.scheduleGroupName}/*]`,
      reason:
        'The send function creates and deletes one-time schedules named by message id and time, which it ' +
        "cannot know in advance: every schedule of the stack's own group, and no other group.",
    });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
        resources: [this.scheduleArns()],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }

  /** The send function's environment (functions/send/index.ts). */
  environment(mailQueue: IQueue): Record<string, string> {
    return {
      SCHEDULE_GROUP: this.group.scheduleGroupName,
      MAIL_QUEUE_ARN: mailQueue.queueArn,
      SCHEDULER_ROLE_ARN: this.role.roleArn,
      SCHEDULE_DLQ_ARN: this.deadLetterQueue.queueArn,
    };
  }
}
