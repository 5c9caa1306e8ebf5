import type { PostroomConfig } from '../config/config';
import { errorName, ServiceUnavailableError, ValidationError } from '../errors';
import { envelopeRecipients, type MailJob, serializeMailJob } from '../mail/mail-job';
import type { Metrics } from '../metrics';
import type { Clock, Log, MailQueue } from '../ports';
import { scheduleEvent } from '../webhooks/producers';
import { publishWebhookEvent, subscribers, type WebhookQueue } from '../webhooks/publish';
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

/** What announcing a schedule change to webhook endpoints needs (the send function's deps have it). */
export interface ScheduleAnnouncer {
  readonly config: Pick<PostroomConfig, 'webhooks'>;
  readonly webhookQueue?: WebhookQueue | undefined;
  readonly log: Log;
  readonly metrics: Metrics;
}

/** Whether an endpoint takes `email.<status>` events of API mail: only then is anything read or built. */
export function announces(deps: ScheduleAnnouncer, status: 'scheduled' | 'canceled'): boolean {
  return (
    deps.webhookQueue !== undefined &&
    subscribers(deps.config.webhooks, {
      type: `email.${status}`,
      data: { messageId: '', status, recipients: [] },
    }).length > 0
  );
}

/**
 * Publishes `email.scheduled` (a message scheduled, or moved to `scheduledAt`) or `email.canceled`, after the
 * message's record took the change. Never throws (publishWebhookEvent): the caller's answer stands.
 */
export async function announceSchedule(
  deps: ScheduleAnnouncer,
  status: 'scheduled' | 'canceled',
  at: string,
  data: { messageId: string; scheduledAt: string; recipients: ReadonlyArray<string> },
): Promise<void> {
  if (!announces(deps, status) || deps.webhookQueue === undefined) return;
  await publishWebhookEvent(
    { config: deps.config, queue: deps.webhookQueue, log: deps.log, metrics: deps.metrics },
    scheduleEvent(status, at, data),
  );
}

/**
 * The recipients of a scheduled message, for its `email.canceled`: read from the job its record keeps, before
 * the cancel removes it, and only when an endpoint takes the event. A failed read gives an event without
 * recipients, never a failed cancel.
 */
export async function scheduledRecipients(
  id: string,
  deps: ScheduleAnnouncer & { scheduling: Pick<SchedulingDeps, 'schedules'> },
): Promise<ReadonlyArray<string>> {
  if (!announces(deps, 'canceled')) return [];
  try {
    const job = await deps.scheduling.schedules.job(id);
    return job === undefined ? [] : envelopeRecipients(JSON.parse(job) as MailJob);
  } catch (error) {
    deps.log.warn('could not read the recipients of a canceled message', {
      jobId: id,
      error: errorName(error),
    });
    return [];
  }
}
