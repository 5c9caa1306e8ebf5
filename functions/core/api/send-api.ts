import {
  BadRequestError,
  errorName,
  type FieldError,
  HttpError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  ValidationError,
} from '../errors';
import { suppressedRecipients } from '../events/suppression';
import { guarded, notAcceptedStatus, type SubmitFormDeps } from '../forms/submit-form';
import { type HttpRequest, type HttpResponse, jsonResponse, mediaType, problemResponse } from '../http';
import { maskAddress } from '../mail/address';
import { planAttachments, storeAttachments } from '../mail/attachments';
import {
  envelopeRecipients,
  MAX_MAIL_JOB_BYTES,
  type MailJob,
  mailJobBytes,
  serializeMailJob,
} from '../mail/mail-job';
import type { MessageStore } from '../messages';
import { METRIC, rejectionReason } from '../metrics';
import { parseScheduledAt } from '../scheduling/schedule';
import {
  announceSchedule,
  checkScheduledJob,
  deliverScheduled,
  pathFor,
  type SchedulingDeps,
  scheduleIso,
  schedulingOf,
} from '../scheduling/scheduled-send';
import { KEY_PREFIX } from '../table-keys';
import type { RenderedMail } from '../templates/catalog';
import { type ApiKeyStore, authenticate, ForbiddenScopeError } from './api-keys';
import { completed, readIdempotencyKey, remember, rememberedKey } from './idempotency';
import {
  buildApiMailJob,
  payloadHash,
  type SendRequest,
  sendRequestSchema,
  subjectProblem,
  validateSendRequest,
} from './send-request';

/**
 * The transactional API: `POST /v1/send`, `POST /v1/send/batch`, `GET /v1/messages/{id}`, each behind an API
 * key. Same queue, same MailJob, same relay as the contact forms; the sender chooses the recipients, which
 * is why a key is required.
 */
export interface SendApiDeps extends SubmitFormDeps {
  readonly apiKeys: ApiKeyStore;
  readonly messages: MessageStore;
  /** Scheduled send, cancel and reschedule (core/scheduling); absent, `scheduledAt` is answered 503. */
  readonly scheduling?: SchedulingDeps;
}

/** Most messages in one batch request. */
export const MAX_BATCH_MESSAGES = 100;

/** `POST /v1/send`: one message. 202 `{id}`. */
export async function sendMessage(request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  return answering(deps, async () => {
    const { keyId } = await authenticated(request, deps);
    const body = jsonBody(request, deps);
    const validated = validateSendRequest(sendRequestSchema(deps.config), body);
    if (!validated.ok) throw new ValidationError(validated.errors);
    const rendering = await renderRequested(validated.request, deps);
    if (!rendering.ok) throw new ValidationError(rendering.errors);
    const schedule = scheduledLater(readSchedule(validated.request, deps), deps);
    const idempotencyKey = readIdempotencyKey(request);

    const id = deps.newId();
    let rememberedAs: string | undefined;
    if (idempotencyKey !== undefined) {
      rememberedAs = rememberedKey(keyId, idempotencyKey);
      // The key keeps what this request will answer, so that a replay answers exactly that (a scheduled
      // send's status and time too), whatever became of the message since.
      const answer = { id, ...(schedule === undefined ? {} : scheduledAnswer(schedule)) };
      const earlier = await remember(rememberedAs, payloadHash(validated.request), answer, deps);
      if (earlier !== undefined) {
        deps.log.info('idempotent replay', { keyId, jobId: earlier.id, outcome: 'replayed' });
        return jsonResponse(202, earlier, { 'idempotent-replayed': 'true' });
      }
    }
    // After the replay check: a request accepted before its recipient was suppressed replays its 202.
    const result = await refuseSuppressed(validated.request, deps).then(
      () =>
        enqueueMessage(
          validated.request,
          id,
          keyId,
          deps,
          request.correlationId,
          rendering.rendered,
          schedule,
        ),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (!result.ok) {
      if (rememberedAs !== undefined) await deps.guards.forget(rememberedAs).catch(() => {});
      throw result.error;
    }
    if (rememberedAs !== undefined) await completed(rememberedAs, deps);
    return jsonResponse(202, { id, ...result.scheduled });
  });
}

/**
 * The messages of a batch body: `{messages: [...]}`, or the bare array, as Resend's and Postmark's batch
 * endpoints take it. Anything else is a 422 naming the body.
 */
function batchMessages(body: unknown): unknown {
  if (Array.isArray(body)) return body;
  if (typeof body !== 'object' || body === null || Object.keys(body).some((key) => key !== 'messages')) {
    throw new ValidationError([
      { field: '(body)', detail: 'must be a list of messages or an object with only "messages"' },
    ]);
  }
  return (body as { messages?: unknown }).messages;
}

/**
 * `POST /v1/send/batch`: `{messages: [...]}` or `[...]`, up to 100. Each message is validated and queued on its own, so
 * the answer is 200 with one result per message, `{index, id}` or `{index, errors}` (like a 207 Multi-Status,
 * in JSON). Idempotency-Key is not supported on a batch: it is refused rather than silently ignored.
 */
export async function sendBatch(request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  return answering(deps, async () => {
    const { keyId } = await authenticated(request, deps);
    const body = jsonBody(request, deps);
    if (request.headers['idempotency-key'] !== undefined) {
      throw new BadRequestError('Idempotency-Key is supported on POST /v1/send only, not on a batch.');
    }
    const messages = batchMessages(body);
    if (!Array.isArray(messages) || messages.length === 0 || messages.length > MAX_BATCH_MESSAGES) {
      throw new ValidationError([
        { field: 'messages', detail: `must be a list of 1 to ${MAX_BATCH_MESSAGES} messages` },
      ]);
    }
    const schema = sendRequestSchema(deps.config);
    const results = await Promise.all(
      messages.map(async (message: unknown, index) => {
        const validated = validateSendRequest(schema, message);
        if (!validated.ok) return { index, errors: validated.errors };
        const rendering = await renderRequested(validated.request, deps);
        if (!rendering.ok) return { index, errors: rendering.errors };
        let schedule: number | undefined;
        try {
          schedule = scheduledLater(readSchedule(validated.request, deps), deps);
          await refuseSuppressed(validated.request, deps);
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          return { index, errors: error.errors ?? [{ field: '(message)', detail: error.message }] };
        }
        const id = deps.newId();
        const result = await enqueueMessage(
          validated.request,
          id,
          keyId,
          deps,
          request.correlationId,
          rendering.rendered,
          schedule,
        );
        if (!result.ok) {
          return {
            index,
            errors: result.error.errors ?? [{ field: '(message)', detail: result.error.message }],
          };
        }
        return { index, id, ...result.scheduled };
      }),
    );
    return jsonResponse(200, { results });
  });
}

/** `GET /v1/messages/{id}`: the status and history of a message sent with this API key; 404 otherwise. */
export async function getMessage(id: string, request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  return answering(deps, async () => {
    const { keyId } = await authenticated(request, deps);
    const notFound = new NotFoundError('There is no message with this id for this API key.');
    if (!/^[0-9a-f-]{36}$/.test(id)) throw notFound;
    const record = await guarded(() => deps.messages.get(id), deps.log);
    // A form's messages, and other keys' messages, are not this key's to see: the same 404 as unknown ids.
    if (record === undefined || record.keyId !== keyId) throw notFound;
    return jsonResponse(
      200,
      {
        id: record.id,
        status: record.status,
        ...(record.scheduledAt === undefined ? {} : { scheduledAt: record.scheduledAt }),
        history: record.history,
      },
      { 'cache-control': 'no-store' },
    );
  });
}

/**
 * `POST /v1/templates/{id}/render`: `{variables}` in, `{subject, html, text, version}` out, without sending;
 * the same checks and the same 422 as a send, so a backend's own tests can call it. 404 for an unknown id.
 */
export async function renderTemplatePreview(
  id: string,
  request: HttpRequest,
  deps: SendApiDeps,
): Promise<HttpResponse> {
  return answering(deps, async () => {
    await authenticated(request, deps);
    const body = request.body.length === 0 ? {} : jsonBody(request, deps);
    if (typeof body !== 'object' || body === null || Object.keys(body).some((key) => key !== 'variables')) {
      throw new ValidationError([{ field: '(body)', detail: 'must be an object with only "variables"' }]);
    }
    const variables = (body as { variables?: unknown }).variables;
    const templates = await deps.templates.load();
    if (!Object.hasOwn(templates, id)) throw new NotFoundError('There is no template with this id.');
    const { renderReference } = await import('../templates/render-request');
    const rendering = renderReference(templates, {
      id,
      variables: variables as Record<string, unknown> | undefined,
    });
    if (!rendering.ok) throw new ValidationError(rendering.errors);
    const { subject, html, text, version } = rendering.rendered;
    return jsonResponse(200, { subject, html, text, version }, { 'cache-control': 'no-store' });
  });
}

/**
 * The time a message waits for, or undefined when it goes now: no `scheduledAt`, or one that has come (within
 * the clock skew), which is sent as unscheduled mail (no marker, no extra read). Decided once per message,
 * before anything is remembered or stored, so the answer, the record and the job agree.
 */
function scheduledLater(atMs: number | undefined, deps: SendApiDeps): number | undefined {
  if (atMs === undefined || deps.scheduling === undefined) return undefined;
  return pathFor(atMs, deps.clock, deps.scheduling).kind === 'now' ? undefined : atMs;
}

function scheduledAnswer(atMs: number): { status: 'scheduled'; scheduledAt: string } {
  return { status: 'scheduled', scheduledAt: scheduleIso(atMs) };
}

/**
 * The time of `scheduledAt`, in ms, when the request has one: refused with 422 naming the field when it has
 * no offset, is past (beyond the clock skew) or beyond schedule.maxDays (core/scheduling/schedule.ts).
 */
function readSchedule(request: SendRequest, deps: SendApiDeps): number | undefined {
  if (request.scheduledAt === undefined) return undefined;
  const time = parseScheduledAt(request.scheduledAt, deps.clock.now(), deps.config.schedule.maxDays);
  if (!time.ok) throw new ValidationError([{ field: 'scheduledAt', detail: time.reason }]);
  schedulingOf(deps);
  return time.atMs;
}

export async function answering(deps: SendApiDeps, step: () => Promise<HttpResponse>): Promise<HttpResponse> {
  try {
    return await step();
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    const reason = rejectionReason(error);
    deps.log.info('api request rejected', { outcome: 'rejected', status: error.status, reason });
    if (error.status < 500) deps.metrics.count(METRIC.rejected, 1, { reason });
    return problemResponse(error);
  }
}

/** The request's key, which must have `send` (null: any scope; the caller checks its own). */
export async function authenticated(
  request: HttpRequest,
  deps: SendApiDeps,
  scope: 'send' | null = 'send',
): Promise<{ keyId: string; scopes: ReadonlyArray<string> }> {
  const key = await guarded(
    () => authenticate(request, { apiKeys: deps.apiKeys, guards: deps.guards, nowMs: deps.clock.now() }),
    deps.log,
  );
  if (scope !== null && !key.scopes.includes(scope)) throw new ForbiddenScopeError(scope);
  return key;
}

export function jsonBody(request: HttpRequest, deps: SendApiDeps): unknown {
  if (request.body.length > deps.config.api.maxBodyBytes) {
    throw new PayloadTooLargeError(`The request body is larger than ${deps.config.api.maxBodyBytes} bytes.`);
  }
  if (mediaType(request.headers['content-type']) !== 'application/json') {
    throw new HttpError(415, 'Unsupported Media Type', 'Send application/json.');
  }
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new BadRequestError('The body is not valid JSON.');
  }
}

/**
 * Recipients on the suppression list (they bounced permanently or complained) are refused with 422, one
 * error per address, naming the field it came in. The caller sent the address, so it is shown in full.
 */
async function refuseSuppressed(request: SendRequest, deps: SendApiDeps): Promise<void> {
  const list = deps.suppression;
  if (list === undefined) return;
  const errors = await guarded(() => suppressedRecipients(request, list), deps.log);
  if (errors.length === 0) return;
  deps.log.info('suppressed recipients refused', {
    outcome: 'suppressed',
    recipients: errors.length,
  });
  throw new SuppressedRecipientsError(errors);
}

/** A 422 like any validation failure, told apart in the SubmissionRejected reason. */
class SuppressedRecipientsError extends ValidationError {
  constructor(errors: ConstructorParameters<typeof ValidationError>[0]) {
    super(errors);
    this.name = 'SuppressedRecipientsError';
  }
}

/**
 * Renders the request's template, if it names one, before anything is stored or queued: a request whose
 * template is unknown or whose variables do not fit is answered 422 and leaves no trace. The renderer and
 * Handlebars' runtime are loaded by import() here, so requests without a template never load them.
 */
async function renderRequested(
  request: SendRequest,
  deps: Pick<SendApiDeps, 'templates' | 'log'>,
): Promise<
  { ok: true; rendered: RenderedMail | undefined } | { ok: false; errors: ReadonlyArray<FieldError> }
> {
  if (request.template === undefined) return { ok: true, rendered: undefined };
  const templates = await deps.templates.load();
  const { renderReference } = await import('../templates/render-request');
  const rendering = renderReference(templates, request.template);
  if (!rendering.ok) return rendering;
  // The template's subject is checked as a given one would be (a given subject overrides it).
  const problem = request.subject === undefined ? subjectProblem(rendering.rendered.subject) : undefined;
  if (problem !== undefined) {
    return { ok: false, errors: [{ field: 'subject', detail: `as the template renders it, ${problem}` }] };
  }
  return rendering;
}

/**
 * Enqueues and writes `queued` (with the owning key, which GET /v1/messages checks) at the same time. The
 * enqueue decides the answer: a queued job is accepted even when the status write failed, since a 503 for
 * mail on its way would make the caller send it twice. The relay writes the owning key with each status,
 * so the message still becomes readable; until its first status it answers 404.
 */
async function enqueueMessage(
  request: SendRequest,
  id: string,
  keyId: string,
  deps: SendApiDeps,
  correlationId: string | undefined,
  rendered?: RenderedMail,
  scheduledAtMs?: number,
): Promise<
  { ok: true; scheduled?: { status: 'scheduled'; scheduledAt: string } } | { ok: false; error: HttpError }
> {
  const files = planAttachments(request.attachments ?? [], id, deps.config.attachments.inlineMaxBytes);
  const built: MailJob = buildApiMailJob(
    request,
    { id, createdAt: new Date(deps.clock.now()), keyId },
    files.attachments,
    rendered,
  );
  // `scheduledAtMs` is set only for mail that waits (scheduledLater): due mail carries no marker.
  const job: MailJob =
    scheduledAtMs !== undefined ? { ...built, scheduledAt: scheduleIso(scheduledAtMs) } : built;
  if (mailJobBytes(job) > MAX_MAIL_JOB_BYTES) {
    return { ok: false, error: new PayloadTooLargeError('The message is too large to send.') };
  }
  try {
    if (scheduledAtMs !== undefined) checkScheduledJob(job, scheduledAtMs, deps.clock.now());
    // Large files go to the bucket first: a queued job never points at an object that is not there.
    await storeAttachments(files.uploads, deps.blobs, deps.log, { keyId, jobId: id });
  } catch (error) {
    if (error instanceof HttpError) return { ok: false, error };
    throw error;
  }
  if (job.scheduledAt !== undefined && scheduledAtMs !== undefined) {
    return enqueueScheduled(
      { ...job, scheduledAt: job.scheduledAt },
      scheduledAtMs,
      keyId,
      deps,
      correlationId,
    );
  }
  const [enqueued, queued] = await Promise.allSettled([
    deps.queue.enqueue(job, correlationId),
    deps.messages.recordInitial(
      id,
      {
        status: 'queued',
        at: new Date(deps.clock.now()).toISOString(),
        // The template and its version, so a caller can tell which design a message went out with.
        ...(rendered === undefined ? {} : { detail: `template ${rendered.label}` }),
      },
      { keyId },
    ),
  ]);
  if (queued.status === 'rejected') {
    deps.log.error('status store failed', {
      keyId,
      jobId: id,
      outcome: 'status-failed',
      error: errorName(queued.reason),
    });
  }
  if (enqueued.status === 'rejected') {
    deps.log.error('enqueue failed', {
      keyId,
      jobId: id,
      outcome: 'enqueue-failed',
      error: errorName(enqueued.reason),
    });
    // Both writes have settled, so `failed` lands after `queued` and replaces it.
    await notAcceptedStatus(id, deps);
    return {
      ok: false,
      error: new ServiceUnavailableError('Mail cannot be accepted right now; try again shortly.', 5),
    };
  }
  deps.metrics.count(METRIC.accepted);
  deps.log.info('message accepted', {
    keyId,
    jobId: id,
    outcome: 'accepted',
    recipients: envelopeRecipients(job).map(maskAddress),
  });
  return { ok: true };
}

/**
 * A scheduled message: its record is written `scheduled` (with the job) before the job is handed to its path,
 * so the relay, which starts it with a conditional write on that record, always finds it.
 */
async function enqueueScheduled(
  job: MailJob & { scheduledAt: string },
  atMs: number,
  keyId: string,
  deps: SendApiDeps,
  correlationId: string | undefined,
): Promise<
  { ok: true; scheduled: { status: 'scheduled'; scheduledAt: string } } | { ok: false; error: HttpError }
> {
  const scheduling = schedulingOf(deps);
  const unavailable = new ServiceUnavailableError('Mail cannot be accepted right now; try again shortly.', 5);
  try {
    await scheduling.schedules.recordScheduled(
      job.id,
      { status: 'scheduled', at: new Date(deps.clock.now()).toISOString(), detail: job.scheduledAt },
      { keyId, scheduledAt: job.scheduledAt, job: serializeMailJob(job) },
    );
  } catch (error) {
    deps.log.error('status store failed', {
      keyId,
      jobId: job.id,
      outcome: 'status-failed',
      error: errorName(error),
    });
    return { ok: false, error: unavailable };
  }
  try {
    const path = await deliverScheduled(job, atMs, { ...deps, scheduling }, correlationId);
    deps.metrics.count(METRIC.accepted);
    deps.log.info('message scheduled', {
      keyId,
      jobId: job.id,
      outcome: 'scheduled',
      scheduledAt: job.scheduledAt,
      path: path.kind,
      recipients: envelopeRecipients(job).map(maskAddress),
    });
    await announceSchedule(deps, 'scheduled', new Date(deps.clock.now()).toISOString(), {
      messageId: job.id,
      scheduledAt: job.scheduledAt,
      recipients: envelopeRecipients(job),
    });
    return { ok: true, scheduled: scheduledAnswer(atMs) };
  } catch (error) {
    deps.log.error('schedule failed', {
      keyId,
      jobId: job.id,
      outcome: 'enqueue-failed',
      error: errorName(error),
    });
    // Nothing will fire: the record says so, and a cancel answers 409 `failed`.
    await scheduling.schedules
      .cancel(job.id, {
        status: 'failed',
        at: new Date(deps.clock.now()).toISOString(),
        detail: 'not accepted',
      })
      .catch(() => {});
    return { ok: false, error: unavailable };
  }
}
