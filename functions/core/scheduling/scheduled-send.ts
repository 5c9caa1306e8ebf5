import { ServiceUnavailableError, ValidationError } from '../errors';
import { type MailJob, serializeMailJob } from '../mail/mail-job';
import type { Clock, MailQueue } from '../ports';
import {
  type DeliveryPath,
  deliveryPath,
  MAX_BUCKET_SCHEDULE_DAYS,
  MAX_SCHEDULED_JOB_BYTES,
  type Scheduler,
  scheduleIso,
} from './schedule';
import type { ScheduleStore } from './schedule-store';

/** What the API needs to schedule, cancel and move mail. Absent, a request with `scheduledAt` is a 503. */
export interface SchedulingDeps {
  readonly schedules: ScheduleStore;
  readonly scheduler: Scheduler;
  /**
   * The longest wait given to the mail queue as an SQS delay (MAX_QUEUE_DELAY_SECONDS on AWS). The local
   * stack gives every wait to its scheduler, which keeps schedules across restarts; its queue does not.
   */
  readonly maxQueueDelaySeconds?: number;
}

/** The path a job scheduled at `atMs` takes now. */
export function pathFor(atMs: number, clock: Clock, scheduling: SchedulingDeps): DeliveryPath {
  return deliveryPath(atMs, clock.now(), scheduling.maxQueueDelaySeconds);
}

/**
 * The refusals that depend on the job, not only on the time: the job must fit the Scheduler's input (and the
 * record it is kept in), and files in the attachments bucket must still be there at the time.
 */
export function checkScheduledJob(job: MailJob, atMs: number, nowMs: number): void {
  const bytes = serializeMailJob(job).length;
  if (bytes > MAX_SCHEDULED_JOB_BYTES) {
    throw new ValidationError([
      {
        field: 'scheduledAt',
        detail: `a scheduled message must be at most ${MAX_SCHEDULED_JOB_BYTES / 1024} KB as queued (this one is ${Math.ceil(bytes / 1024)} KB); send it now, or make it smaller`,
      },
    ]);
  }
  const inBucket = (job.attachments ?? []).some((file) => 'blob' in file);
  if (inBucket && atMs - nowMs > MAX_BUCKET_SCHEDULE_DAYS * 86_400_000) {
    throw new ValidationError([
      {
        field: 'scheduledAt',
        detail: `a message with large attachments can be scheduled at most ${MAX_BUCKET_SCHEDULE_DAYS} days ahead`,
      },
    ]);
  }
}

/** Hands a scheduled job to its path: the mail queue (with a delay, or at once when it is due), or a schedule. */
export async function deliverScheduled(
  job: MailJob & { scheduledAt: string },
  atMs: number,
  deps: { queue: MailQueue; clock: Clock; scheduling: SchedulingDeps },
  correlationId: string | undefined,
): Promise<DeliveryPath> {
  const path = pathFor(atMs, deps.clock, deps.scheduling);
  if (path.kind === 'scheduler') {
    await deps.scheduling.scheduler.createSchedule(job.id, atMs, serializeMailJob(job));
  } else {
    await deps.queue.enqueue(
      job,
      correlationId,
      path.kind === 'queue-delay' ? { delaySeconds: path.delaySeconds } : {},
    );
  }
  return path;
}

export function schedulingOf(deps: { scheduling?: SchedulingDeps | undefined }): SchedulingDeps {
  if (deps.scheduling === undefined) {
    throw new ServiceUnavailableError('Scheduled send is not available here.', 60);
  }
  return deps.scheduling;
}

export { scheduleIso };
