/**
 * Scheduled send: the rules for `scheduledAt` and the path a scheduled job takes to the mail queue.
 * docs/scheduling.md is the reference.
 */

/**
 * How far in the past `scheduledAt` may be and still be taken (as "now"): a caller whose clock runs a little
 * behind ours, or who schedules "now" and loses a second on the network, is not refused.
 */
export const CLOCK_SKEW_MS = 5_000;

/**
 * SQS holds a message back for at most 15 minutes (DelaySeconds 0 to 900,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html); later
 * schedules go through the Scheduler port (EventBridge Scheduler on AWS).
 */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/**
 * EventBridge Scheduler's limit on a target's input is 256 KB
 * (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html); the job is also kept in the
 * message's record (DynamoDB items hold 400 KB) so that a reschedule can enqueue it again. A scheduled job
 * must fit in both, with room for the record's history.
 */
export const MAX_SCHEDULED_JOB_BYTES = 240 * 1024;

/**
 * Files too large for the job wait in the attachments bucket, whose objects expire after 15 days
 * (infra/constructs/attachments.ts): a message with such files cannot be scheduled later than this.
 */
export const MAX_BUCKET_SCHEDULE_DAYS = 14;

// RFC 3339 section 5.6 date-time, with a required offset: `Z` or `+hh:mm`/`-hh:mm` (`T` and `Z` in either
// case, as section 5.6 allows). A local time without offset is ambiguous: refused rather than guessed.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

export type ScheduleTime = { ok: true; atMs: number } | { ok: false; reason: string };

/**
 * Reads `scheduledAt` and checks it against now and the horizon. The time is kept to the second (a fraction
 * rounds up to the next one): that is the precision of both delivery paths.
 */
export function parseScheduledAt(value: unknown, nowMs: number, maxDays: number): ScheduleTime {
  if (typeof value !== 'string') return { ok: false, reason: 'must be an RFC 3339 date-time string' };
  const match = RFC3339.exec(value);
  if (!match) {
    return {
      ok: false,
      reason:
        'must be an RFC 3339 date-time with an offset, such as 2026-05-01T09:30:00Z or 2026-05-01T11:30:00+02:00',
    };
  }
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as number[];
  const offsetHours = match[9] === undefined ? 0 : Number(match[9]);
  const offsetMinutes = match[10] === undefined ? 0 : Number(match[10]);
  const calendar = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1, hour, minute, second));
  // Date.UTC rolls 31 April over to 1 May: a date that does not come back as written does not exist.
  if (
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() + 1 !== month ||
    calendar.getUTCDate() !== day ||
    calendar.getUTCHours() !== hour ||
    calendar.getUTCMinutes() !== minute ||
    calendar.getUTCSeconds() !== second ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return { ok: false, reason: 'is not a valid date and time' };
  }
  const sign = match[8]?.startsWith('-') ? -1 : 1;
  // A fraction of a second rounds up: the mail never goes before the time asked for.
  const fraction = match[7] !== undefined && /[1-9]/.test(match[7]) ? 1_000 : 0;
  const atMs = calendar.getTime() + fraction - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  if (atMs < nowMs - CLOCK_SKEW_MS) return { ok: false, reason: 'is in the past' };
  if (atMs > nowMs + maxDays * 86_400_000) {
    return { ok: false, reason: `must be at most ${maxDays} days ahead (schedule.maxDays)` };
  }
  return { ok: true, atMs };
}

/** How a job reaches the mail queue at its time. */
export type DeliveryPath =
  | { readonly kind: 'now' }
  | { readonly kind: 'queue-delay'; readonly delaySeconds: number }
  | { readonly kind: 'scheduler' };

/**
 * Now when the time has come (within the clock skew), an SQS delay up to `maxQueueDelaySeconds`, the
 * scheduler beyond. The delay is rounded up: a mail never goes before its time.
 */
export function deliveryPath(
  atMs: number,
  nowMs: number,
  maxQueueDelaySeconds = MAX_QUEUE_DELAY_SECONDS,
): DeliveryPath {
  const delaySeconds = Math.ceil((atMs - nowMs) / 1000);
  if (delaySeconds <= 0) return { kind: 'now' };
  if (delaySeconds <= maxQueueDelaySeconds) return { kind: 'queue-delay', delaySeconds };
  return { kind: 'scheduler' };
}

/** The time as the API shows it and the job carries it: UTC, to the second. */
export function scheduleIso(atMs: number): string {
  return new Date(Math.floor(atMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * One-time schedules that put a job on the mail queue at a time: EventBridge Scheduler on AWS
 * (adapters/eventbridge-scheduler.ts), the local scheduler in the local stack (local/scheduler.ts). At least
 * once, as SQS: the relay's claim and the message state make a double fire send once.
 *
 * A schedule is named by its message and its time (scheduleName): a reschedule creates the new one before it
 * deletes the old, so two moves of one message at once can never leave it with no schedule at all, and an old
 * schedule that fires anyway is dropped by the relay as superseded.
 */
export interface Scheduler {
  /** Creates the schedule of message `id` at `atMs`, with `body` (a serialized MailJob); an existing one is kept. */
  createSchedule(id: string, atMs: number, body: string): Promise<void>;
  /** Deletes the schedule of message `id` at `atMs`; no such schedule is not an error (it fired, or never was). */
  deleteSchedule(id: string, atMs: number): Promise<void>;
}

/** `<message id>-<unix seconds>`: within EventBridge Scheduler's 64 characters of [0-9a-zA-Z-_.]. */
export function scheduleName(id: string, atMs: number): string {
  return `${id}-${Math.floor(atMs / 1000)}`;
}
