import { createHash } from 'node:crypto';
import { errorName, NotFoundError, ValidationError } from '../errors';
import { guarded } from '../forms/submit-form';
import { type HttpRequest, type HttpResponse, jsonResponse } from '../http';
import { envelopeRecipients, type MailJob, serializeMailJob } from '../mail/mail-job';
import type { MessageRecord, MessageStatus } from '../messages';
import { parseScheduledAt, scheduleIso } from '../scheduling/schedule';
import {
  announceSchedule,
  checkScheduledJob,
  deliverScheduled,
  scheduledRecipients,
  schedulingOf,
} from '../scheduling/scheduled-send';
import { completed, readIdempotencyKey, remember, rememberedKey } from './idempotency';
import { answering, authenticated, jsonBody, type SendApiDeps } from './send-api';

/**
 * `POST /v1/messages/{id}/cancel` and `PATCH /v1/messages/{id}` `{"scheduledAt"}`: a scheduled message of
 * this API key is canceled or moved while it is `scheduled`; afterwards the answer is 409 with its current
 * status. Both are conditional writes on that status (ScheduleStore), against which the relay's start is
 * the other conditional write: a 200 cancel means the mail is never sent. docs/scheduling.md.
 */
export async function cancelMessage(
  id: string,
  request: HttpRequest,
  deps: SendApiDeps,
): Promise<HttpResponse> {
  return answering(deps, async () => {
    const { keyId } = await authenticated(request, deps);
    const scheduling = schedulingOf(deps);
    const record = await ownedMessage(id, keyId, deps);
    const replay = await idempotent(request, keyId, id, 'cancel', deps);
    if (replay === 'replayed') return canceledResponse(id, { 'idempotent-replayed': 'true' });
    // Read before the cancel, which removes the job from the record.
    const recipients = await scheduledRecipients(id, { ...deps, scheduling });
    const at = new Date(deps.clock.now()).toISOString();
    const result = await guarded(() => scheduling.schedules.cancel(id, { status: 'canceled', at }), deps.log);
    if (!result.ok) {
      await replay.forget();
      return notScheduled(id, result.status ?? record.status, result.scheduledAt);
    }
    deps.log.info('message canceled', { keyId, jobId: id, outcome: 'canceled' });
    await replay.completed();
    await announceSchedule(deps, 'canceled', at, {
      messageId: id,
      scheduledAt: record.scheduledAt ?? '',
      recipients,
    });
    // The record says canceled, so the relay drops the job whatever fires; deleting the schedule only saves
    // that firing.
    if (record.scheduledAt !== undefined) {
      const atMs = Date.parse(record.scheduledAt);
      await scheduling.scheduler.deleteSchedule(id, atMs).catch((error: unknown) => {
        deps.log.warn('could not delete the schedule; the relay will drop it', {
          jobId: id,
          error: errorName(error),
        });
      });
    }
    return canceledResponse(id);
  });
}

export async function rescheduleMessage(
  id: string,
  request: HttpRequest,
  deps: SendApiDeps,
): Promise<HttpResponse> {
  return answering(deps, async () => {
    const { keyId } = await authenticated(request, deps);
    const scheduling = schedulingOf(deps);
    const body = jsonBody(request, deps);
    if (typeof body !== 'object' || body === null || Object.keys(body).some((key) => key !== 'scheduledAt')) {
      throw new ValidationError([{ field: '(body)', detail: 'must be an object with only "scheduledAt"' }]);
    }
    const time = parseScheduledAt(
      (body as { scheduledAt?: unknown }).scheduledAt,
      deps.clock.now(),
      deps.config.schedule.maxDays,
    );
    if (!time.ok) throw new ValidationError([{ field: 'scheduledAt', detail: time.reason }]);
    const to = scheduleIso(time.atMs);
    const record = await ownedMessage(id, keyId, deps);
    const replay = await idempotent(request, keyId, id, `move ${to}`, deps);
    if (replay === 'replayed') return movedResponse(id, to, { 'idempotent-replayed': 'true' });
    const answer = await move(id, record, time.atMs, to, deps, scheduling);
    await (answer.status === 200 ? replay.completed() : replay.forget());
    return answer;
  });
}

async function move(
  id: string,
  record: MessageRecord,
  atMs: number,
  to: string,
  deps: SendApiDeps,
  scheduling: ReturnType<typeof schedulingOf>,
): Promise<HttpResponse> {
  const from = record.scheduledAt;
  const stored =
    record.status === 'scheduled' ? await guarded(() => scheduling.schedules.job(id), deps.log) : undefined;
  if (from === undefined || stored === undefined) return notScheduled(id, record.status, from);
  if (from === to) return movedResponse(id, to);
  // The job is the one this function built and stored: it is not validated again here (the MailJob schema is
  // the relay's boundary, and stays out of the send function's bundle); the relay validates it when it goes.
  const job = { ...(JSON.parse(stored) as MailJob), scheduledAt: to };
  checkScheduledJob(job, atMs, deps.clock.now());
  // The new time is delivered first and the record moved after: until the record moves, what the new time
  // fires is dropped as superseded, and if the move is refused (a cancel or the send came first) it stays so.
  await guarded(() => deliverScheduled(job, atMs, { ...deps, scheduling }, undefined), deps.log);
  const at = new Date(deps.clock.now()).toISOString();
  const moved = await guarded(
    () =>
      scheduling.schedules.move(id, from, to, serializeMailJob(job), {
        status: 'scheduled',
        at,
        detail: `moved to ${to}`,
      }),
    deps.log,
  );
  if (!moved.ok) return notScheduled(id, moved.status ?? record.status, moved.scheduledAt);
  await announceSchedule(deps, 'scheduled', at, {
    messageId: id,
    scheduledAt: to,
    recipients: envelopeRecipients(job),
  });
  await scheduling.scheduler.deleteSchedule(id, Date.parse(from)).catch((error: unknown) => {
    deps.log.warn('could not delete the old schedule; the relay will drop it', {
      jobId: id,
      error: errorName(error),
    });
  });
  deps.log.info('message rescheduled', { jobId: id, outcome: 'rescheduled', scheduledAt: to });
  return movedResponse(id, to);
}

/** The message, when this key sent it; the same 404 as an unknown id otherwise (GET /v1/messages). */
async function ownedMessage(id: string, keyId: string, deps: SendApiDeps): Promise<MessageRecord> {
  const notFound = new NotFoundError('There is no message with this id for this API key.');
  if (!/^[0-9a-f-]{36}$/.test(id)) throw notFound;
  const record = await guarded(() => deps.messages.get(id), deps.log);
  if (record === undefined || record.keyId !== keyId) throw notFound;
  return record;
}

/**
 * Idempotency-Key as on POST /v1/send: the key is bound to the operation (message and new time); a repeat
 * answers what the first did, a different operation under the same key is a 422 and a repeat while the first
 * is in flight a 409 (idempotency.ts). A refused operation
 * forgets the key, as a send that was not queued does.
 */
async function idempotent(
  request: HttpRequest,
  keyId: string,
  id: string,
  operation: string,
  deps: SendApiDeps,
): Promise<'replayed' | { forget(): Promise<void>; completed(): Promise<void> }> {
  const idempotencyKey = readIdempotencyKey(request);
  if (idempotencyKey === undefined) return { forget: async () => {}, completed: async () => {} };
  const rememberedAs = rememberedKey(keyId, idempotencyKey);
  const hash = createHash('sha256').update(`${id} ${operation}`).digest('base64url');
  const earlier = await remember(rememberedAs, hash, { id }, deps);
  if (earlier !== undefined) return 'replayed';
  return {
    forget: () => deps.guards.forget(rememberedAs).catch(() => {}),
    completed: () => completed(rememberedAs, deps),
  };
}

function canceledResponse(id: string, headers: Record<string, string> = {}): HttpResponse {
  return jsonResponse(200, { id, status: 'canceled' }, { ...headers, 'cache-control': 'no-store' });
}

function movedResponse(id: string, scheduledAt: string, headers: Record<string, string> = {}): HttpResponse {
  return jsonResponse(
    200,
    { id, status: 'scheduled', scheduledAt },
    { ...headers, 'cache-control': 'no-store' },
  );
}

/** 409, RFC 9457 with the message's current status as an extension member, so a client need not GET it. */
function notScheduled(id: string, status: MessageStatus, scheduledAt: string | undefined): HttpResponse {
  return {
    status: 409,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: `The message is ${status}, no longer scheduled.`,
      id,
      messageStatus: status,
      ...(scheduledAt === undefined ? {} : { scheduledAt }),
    }),
  };
}
