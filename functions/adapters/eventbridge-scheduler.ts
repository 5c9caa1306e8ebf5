import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { type Scheduler, scheduleName } from '../core/scheduling/schedule';
import { traceAwsCalls } from './xray-aws';

/** What the stack gives the send function (infra/constructs/scheduling.ts), as environment variables. */
export interface EventBridgeSchedulerSettings {
  readonly region: string;
  /** SCHEDULE_GROUP: the stack's schedule group. */
  readonly groupName: string;
  /** MAIL_QUEUE_ARN: the target. */
  readonly queueArn: string;
  /** SCHEDULER_ROLE_ARN: the role the scheduler assumes to send to the queue. */
  readonly roleArn: string;
  /** SCHEDULE_DLQ_ARN: where a job goes when the scheduler cannot deliver it. */
  readonly deadLetterQueueArn: string;
}

/**
 * EventBridge Scheduler one-time schedules: `at(yyyy-mm-ddThh:mm:ss)` in UTC, deleted after they fire
 * (ActionAfterCompletion DELETE), with the mail queue as a templated SQS target and the job as its input.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#one-time
 */
export class EventBridgeScheduler implements Scheduler {
  constructor(
    private readonly client: SchedulerClient,
    private readonly settings: EventBridgeSchedulerSettings,
  ) {}

  async createSchedule(id: string, atMs: number, body: string): Promise<void> {
    const name = scheduleName(id, atMs);
    try {
      await this.client.send(
        new CreateScheduleCommand({
          Name: name,
          GroupName: this.settings.groupName,
          ScheduleExpression: `at(${new Date(Math.floor(atMs / 1000) * 1000).toISOString().slice(0, 19)})`,
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          // The same request retried (an SDK retry after a lost answer) creates one schedule.
          ClientToken: name,
          Target: {
            Arn: this.settings.queueArn,
            RoleArn: this.settings.roleArn,
            Input: body,
            DeadLetterConfig: { Arn: this.settings.deadLetterQueueArn },
            // Retries within the scheduler for a day; the relay's claim keeps a repeated delivery to one send.
            RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
          },
        }),
      );
    } catch (error) {
      // The same message at the same time: the schedule is already there, with the same job.
      if (!(error instanceof ConflictException)) throw error;
    }
  }

  async deleteSchedule(id: string, atMs: number): Promise<void> {
    try {
      await this.client.send(
        new DeleteScheduleCommand({ Name: scheduleName(id, atMs), GroupName: this.settings.groupName }),
      );
    } catch (error) {
      // Fired (and deleted by ActionAfterCompletion), or never made: nothing to delete.
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }
}

export function createEventBridgeScheduler(settings: EventBridgeSchedulerSettings): EventBridgeScheduler {
  return new EventBridgeScheduler(traceAwsCalls(new SchedulerClient({ region: settings.region })), settings);
}
