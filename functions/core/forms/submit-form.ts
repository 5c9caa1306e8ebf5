import type { AkismetDeps } from '../archive/akismet';
import type { ArchiveDeps, Folder, SpamReason } from '../archive/submission-archive';
import type { FormConfig, PostroomConfig } from '../config/config';
import {
  errorName,
  ForbiddenOriginError,
  HttpError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
} from '../errors';
import type { SuppressionList } from '../events/suppression';
import { type HttpRequest, type HttpResponse, jsonResponse, problemResponse } from '../http';
import { maskAddress } from '../mail/address';
import { planAttachments, storeAttachments } from '../mail/attachments';
import { MAX_MAIL_JOB_BYTES, mailJobBytes } from '../mail/mail-job';
import { type MessageStore, recordStatus } from '../messages';
import { METRIC, type Metrics, rejectionReason, type SpamGuard } from '../metrics';
import type { BlobStore, Clock, GuardStore, Log, MailQueue } from '../ports';
import { type QuotaState, rateLimitHeaders } from '../rate-limit-headers';
import type { CompiledTemplates, TemplateCatalog } from '../templates/catalog';
import { submissionReceived } from '../webhooks/producers';
import { publishWebhookEvent, type WebhookQueue } from '../webhooks/publish';
import { type CaptchaVerifier, checkCaptcha } from './captcha';
import { formErrorHtml, wantsHtml } from './error-page';
import { bodyFormat, parseFormUpload, type UploadedFile } from './form-body';
import { type FormSubmission, validateSubmission } from './form-submission';
import { autoresponseTemplate, notificationTemplate } from './form-templates';
import {
  autoresponseAllowed,
  type CountedLimit,
  checkLinks,
  chooseRedirect,
  duplicateKey,
  enforceRateLimits,
  findBlockedWord,
  refundRateLimits,
} from './guards';

export interface SubmitFormDeps {
  readonly config: PostroomConfig;
  readonly queue: MailQueue;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly log: Log;
  readonly metrics: Metrics;
  /** Rate-limit counters and duplicate fingerprints. */
  readonly guards: GuardStore;
  /** Captcha verification, for forms that have a captcha. */
  readonly captcha?: { verifier: CaptchaVerifier; secret: (formId: string) => string | undefined };
  /** The attachments bucket, for files too large to travel in the queue message. */
  readonly blobs?: BlobStore;
  /** Message status: `queued` is written here, while the job is put on the queue for the relay. */
  readonly messages?: MessageStore;
  /**
   * Addresses that bounced permanently or complained: the API refuses them, autoresponses skip them. A
   * form's own recipients are not checked: they are the owner's inbox, fixed in configuration, and
   * refusing a visitor's message because the owner's address once bounced would lose it silently.
   */
  readonly suppression?: SuppressionList;
  /** Where `submission.received` webhook events go; absent, none are published. */
  readonly webhookQueue?: WebhookQueue;
  /**
   * The templates compiled at synth: a form's notification and autoresponse are rendered from them
   * (form-notification and form-autoresponse, or the form's own).
   */
  readonly templates: TemplateCatalog;
  /** The submission archive, for forms with `archive` (core/archive); absent, nothing is archived. */
  readonly archive?: ArchiveDeps;
  /** Akismet, for forms with `akismet`; absent, such a form is treated as if Akismet could not answer. */
  readonly akismet?: AkismetDeps;
}

/**
 * The form mail's renderer and the compiled templates, loaded by import() on the first accepted submission:
 * a cold start that serves no form reads neither Handlebars' runtime nor the templates.
 */
async function formMail(deps: Pick<SubmitFormDeps, 'templates'>): Promise<FormMail> {
  // Kept once loaded: a warm instance awaits a settled promise, not a module lookup, per submission.
  formMailModule ??= import('./form-mail').catch((error: unknown) => {
    formMailModule = undefined;
    throw error;
  });
  const [module, templates] = await Promise.all([formMailModule, deps.templates.load()]);
  return { module, templates };
}

type FormMail = { module: typeof import('./form-mail'); templates: CompiledTemplates };
let formMailModule: Promise<typeof import('./form-mail')> | undefined;

/** Fields a form may hold besides email, name, message and the underscore controls. */
const RESERVED_FIELDS = 8;

/**
 * CORS for a form: a browser request carries Origin, and only the form's allowed origins may post.
 * Requests without Origin (curl, a backend) are not cross-origin browser requests and need no CORS.
 * https://fetch.spec.whatwg.org/#http-cors-protocol
 */
function corsHeaders(form: FormConfig, origin: string | undefined): Record<string, string> {
  if (origin === undefined) return {};
  if (!form.allowedOrigins.includes(origin)) throw new ForbiddenOriginError(origin);
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

/**
 * The answer's headers with the RateLimit fields of the quotas counted; a cross-origin page may read them
 * (and Retry-After) only when they are exposed (Fetch standard, CORS-safelisted response headers).
 */
function withQuotas(
  headers: Record<string, string>,
  quotas: ReadonlyArray<QuotaState>,
): Record<string, string> {
  if (quotas.length === 0) return headers;
  const exposed: Record<string, string> =
    headers['access-control-allow-origin'] === undefined
      ? {}
      : { 'access-control-expose-headers': 'RateLimit, RateLimit-Policy, Retry-After' };
  return { ...headers, ...exposed, ...rateLimitHeaders(quotas) };
}

function requireForm(config: PostroomConfig, formId: string): FormConfig {
  const form = config.forms.find((candidate) => candidate.id === formId);
  if (!form) throw new NotFoundError(`There is no form "${formId.slice(0, 64)}".`);
  return form;
}

/**
 * `OPTIONS /v1/forms/{formId}`: the CORS preflight a browser sends before a JSON fetch. A refused preflight
 * is logged with its origin: the page that sent it sees only "Failed to fetch", so the log is where a site
 * owner learns which origin to add.
 */
export function preflightForm(
  config: PostroomConfig,
  formId: string,
  request: HttpRequest,
  log?: Log,
): HttpResponse {
  try {
    const form = requireForm(config, formId);
    const origin = request.headers.origin;
    const headers = corsHeaders(form, origin);
    if (origin === undefined) return { status: 204, headers: { allow: 'POST, OPTIONS' }, body: '' };
    return {
      status: 204,
      headers: {
        ...headers,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, accept',
        'access-control-max-age': '600',
      },
      body: '',
    };
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    log?.info('preflight refused', {
      formId: formId.slice(0, 64),
      outcome: 'rejected',
      status: error.status,
      reason: rejectionReason(error),
      ...(error instanceof ForbiddenOriginError ? { origin: error.origin } : {}),
    });
    return problemResponse(error);
  }
}

/**
 * `POST /v1/forms/{formId}`: origin, size, rate limits, parse, validate, spam guards, render, enqueue.
 * Cheap refusals come first, so a flood costs as little as possible.
 */
export async function submitForm(
  formId: string,
  request: HttpRequest,
  deps: SubmitFormDeps,
): Promise<HttpResponse> {
  const { config, log } = deps;
  let cors: Record<string, string> = {};
  // For the error page: the form's origins validate its back link.
  let formOfError: FormConfig | undefined;
  const counted: CountedLimit[] = [];
  // The quotas this submission was counted against: announced on every answer after the count, 429 included.
  const quotas: QuotaState[] = [];
  try {
    const form = requireForm(config, formId);
    formOfError = form;
    cors = corsHeaders(form, request.headers.origin);
    if (request.body.length > config.api.maxBodyBytes) {
      throw new PayloadTooLargeError(`The request body is larger than ${config.api.maxBodyBytes} bytes.`);
    }
    await guarded(
      () =>
        enforceRateLimits(
          form,
          request.sourceIp ?? 'unknown',
          deps.clock.now(),
          deps.guards,
          counted,
          quotas,
        ),
      log,
    );
    cors = withQuotas(cors, quotas);

    const contentType = request.headers['content-type'];
    const wantsJson = bodyFormat(contentType) === 'json' || acceptsJson(request.headers.accept);
    const { fields, files } = await parseFormUpload(contentType, request.body, {
      maxFields: form.maxExtraFields + RESERVED_FIELDS,
      maxFieldLength: form.maxFieldLength,
      files: form.files,
    });
    const submission = validateSubmission(fields, form);
    const redirect = chooseRedirect(form, fields.find(([name]) => name === '_next')?.[1]);
    checkLinks(form, submission);
    const id = deps.newId();
    const answer = (answerId: string) => accepted(answerId, redirect, wantsJson, cors);

    if (form.captcha && !submission.honeypotFilled) {
      const captcha = deps.captcha ?? { verifier: unavailableVerifier, secret: () => undefined };
      await guarded(
        () =>
          checkCaptcha(form, fields, request.sourceIp, {
            ...captcha,
            guards: deps.guards,
            nowMs: deps.clock.now(),
            log,
          }),
        log,
      );
    }

    // Spam guards answer exactly as for a success, so a bot learns nothing, and send nothing.
    let guard: SpamGuard | undefined = submission.honeypotFilled
      ? 'honeypot'
      : findBlockedWord(form, submission)
        ? 'blocked-word'
        : undefined;
    // Akismet is asked only about what the cheap guards let through; its code loads for forms that use it.
    let discard = false;
    if (guard === undefined && form.akismet) {
      const { checkAkismet } = await import('../archive/akismet');
      const verdict = await checkAkismet(
        { ...form, akismet: form.akismet },
        submission,
        {
          ip: request.sourceIp,
          userAgent: request.headers['user-agent'],
          referrer: request.headers.referer,
        },
        deps.akismet ?? {
          client: { check: () => Promise.reject(new Error('no client')) },
          key: async () => undefined,
        },
        log,
      );
      if (verdict !== 'ham') guard = 'akismet';
      // Akismet's pro tip: blatant spam, not worth anyone's review; it is not archived either.
      discard = verdict === 'discard';
    }
    const keep = (folder: Folder, messageIds: ReadonlyArray<string>, keptId = id, spamReason?: SpamReason) =>
      archiveCopy(form, deps, {
        id: keptId,
        submission,
        files,
        folder,
        spamReason,
        messageIds,
      });
    const received = async (spamGuard?: string) => {
      // Nothing is built (no id drawn) unless an endpoint is configured.
      if (deps.webhookQueue === undefined || config.webhooks.length === 0) return;
      await publishWebhookEvent(
        { config, queue: deps.webhookQueue, log, metrics: deps.metrics },
        submissionReceived({
          randomId: deps.newId(),
          nowMs: deps.clock.now(),
          formId,
          submissionId: id,
          submission,
          files,
          spamGuard,
        }),
      );
    };
    if (guard !== undefined) {
      log.info('submission dropped as spam', { formId, jobId: id, outcome: 'spam-blocked', guard });
      deps.metrics.count(METRIC.spamBlocked, 1, { guard });
      // With the archive on, the spam folder keeps it for review (and a release with its notification).
      if (!discard) await keep('spam', [], id, guard);
      // Only endpoints with includeSpam receive it (core/webhooks/publish.ts).
      await received(guard);
      return answer(id);
    }

    const attached = planAttachments(files, id, config.attachments.inlineMaxBytes);
    const mail = await formMail(deps);
    const job = mail.module.buildFormMailJob(
      config,
      form,
      submission,
      { id, createdAt: new Date(deps.clock.now()) },
      attached.attachments,
      mail.templates,
    );
    const label = mail.module.templateLabel(mail.templates, notificationTemplate(form));
    // Escaping can make the rendered mail several times the size of the body; a job must fit in SQS.
    if (mailJobBytes(job) > MAX_MAIL_JOB_BYTES)
      throw new PayloadTooLargeError('The message is too large to send.');
    await storeAttachments(attached.uploads, deps.blobs, log, { formId, jobId: id });

    const dupKey = duplicateKey(form, submission);
    if (dupKey !== undefined) {
      const now = Math.floor(deps.clock.now() / 1000);
      const expiresAt = now + (form.content.duplicateWindowSeconds ?? 0);
      const firstId = await guarded(() => deps.guards.remember(dupKey, id, now, expiresAt), log);
      if (firstId !== undefined) {
        log.info('duplicate submission accepted once', { formId, jobId: firstId, outcome: 'duplicate' });
        deps.metrics.count(METRIC.spamBlocked, 1, { guard: 'duplicate' });
        await keep('spam', [], id, 'duplicate');
        return answer(firstId);
      }
    }
    const [enqueued] = await Promise.allSettled([
      deps.queue.enqueue(job, request.correlationId),
      queuedStatus(id, deps, label),
    ]);
    if (enqueued.status === 'rejected') {
      log.error('enqueue failed', {
        formId,
        jobId: id,
        outcome: 'enqueue-failed',
        error: errorName(enqueued.reason),
      });
      // Both writes have settled, so `failed` lands after `queued` and replaces it.
      await notAcceptedStatus(id, deps);
      // The visitor will send again: that retry must not be taken for a duplicate of mail never queued.
      if (dupKey !== undefined) await deps.guards.forget(dupKey).catch(() => {});
      throw new ServiceUnavailableError('Mail cannot be accepted right now; try again shortly.', 5);
    }
    deps.metrics.count(METRIC.accepted);
    await received();
    const autoresponseId = await sendAutoresponse(
      form,
      submission.email.address,
      deps,
      request.correlationId,
      mail,
    );
    await keep('inbox', autoresponseId === undefined ? [id] : [id, autoresponseId]);
    log.info('submission accepted', {
      formId,
      jobId: id,
      outcome: 'accepted',
      replyTo: maskAddress(submission.email.address),
    });
    return answer(id);
  } catch (error) {
    // The service's own failure never counts against the visitor's rate limit.
    if (!(error instanceof HttpError) || error.status >= 500) await refundRateLimits(counted, deps.guards);
    if (!(error instanceof HttpError)) throw error;
    cors = withQuotas(cors, quotas);
    const reason = rejectionReason(error);
    log.info('submission rejected', {
      formId: formId.slice(0, 64),
      outcome: 'rejected',
      status: error.status,
      reason,
      ...(error instanceof ForbiddenOriginError ? { origin: error.origin } : {}),
    });
    if (error.status < 500) deps.metrics.count(METRIC.rejected, 1, { reason });
    if (wantsHtml(request.headers)) return formErrorHtml(error, request, formOfError, cors);
    return problemResponse(error, cors);
  }
}

/**
 * Queues the form's confirmation to the visitor. The visitor's mail is already accepted, so a failure
 * here is logged and the submission still succeeds: answering 503 would make the visitor send twice.
 */
async function sendAutoresponse(
  form: FormConfig,
  to: string,
  deps: SubmitFormDeps,
  correlationId: string | undefined,
  mail: FormMail,
): Promise<string | undefined> {
  const templateId = autoresponseTemplate(form);
  if (templateId === undefined) return undefined;
  const id = deps.newId();
  try {
    if (await deps.suppression?.has(to)) {
      // Writing again to an address that bounced or complained is what SES counts against the account.
      deps.log.info('autoresponse skipped: recipient suppressed', {
        formId: form.id,
        outcome: 'autoresponse-suppressed',
        recipient: maskAddress(to),
      });
      return undefined;
    }
    if (!(await autoresponseAllowed(form, to, deps.clock.now(), deps.guards))) {
      deps.log.info('autoresponse skipped: recipient limit', {
        formId: form.id,
        outcome: 'autoresponse-limited',
      });
      return undefined;
    }
    const job = mail.module.buildAutoresponseJob(
      deps.config,
      form,
      to,
      { id, createdAt: new Date(deps.clock.now()) },
      mail.templates,
    );
    if (!job) return undefined;
    const [enqueued] = await Promise.allSettled([
      deps.queue.enqueue(job, correlationId),
      queuedStatus(id, deps, mail.module.templateLabel(mail.templates, templateId)),
    ]);
    if (enqueued.status === 'rejected') {
      // As for the visitor's mail: the record must not say `queued` for a job that never was.
      await notAcceptedStatus(id, deps);
      throw enqueued.reason;
    }
    deps.log.info('autoresponse queued', { formId: form.id, jobId: id, outcome: 'autoresponse-queued' });
    return id;
  } catch (error) {
    deps.log.error('autoresponse failed', {
      formId: form.id,
      jobId: id,
      outcome: 'autoresponse-failed',
      error: errorName(error),
    });
    return undefined;
  }
}

/**
 * Keeps a copy in the form's archive, when it has one. The archive's code loads with the first submission
 * of such a form, so forms without it pay nothing at cold start.
 */
async function archiveCopy(
  form: FormConfig,
  deps: SubmitFormDeps,
  kept: {
    id: string;
    submission: FormSubmission;
    files: ReadonlyArray<UploadedFile>;
    folder: Folder;
    spamReason: SpamReason | undefined;
    messageIds: ReadonlyArray<string>;
  },
): Promise<void> {
  if (!form.archive || !deps.archive) return;
  const { keepSubmission } = await import('../archive/submission-archive');
  await keepSubmission(
    { ...kept, form: { ...form, archive: form.archive }, receivedMs: deps.clock.now() },
    deps.archive,
    deps.log,
  );
}

/**
 * `queued` is written at the same time as the enqueue, which saves a table round trip on the answer. The
 * relay may pick the job up at once and write `sending` first, so this write never replaces a status
 * (recordInitial) and readers sort the history by time. It never throws: status is a report, not the mail.
 */
function queuedStatus(
  id: string,
  deps: Pick<SubmitFormDeps, 'messages' | 'log' | 'clock'>,
  template: string,
): Promise<void> {
  return recordStatus(
    deps.messages,
    deps.log,
    id,
    // The template and its version, as for a templated send: which design the mail went out with.
    { status: 'queued', at: isoNow(deps.clock), detail: `template ${template}` },
    { initial: true },
  );
}

/** The job never reached the queue: its status says so instead of staying `queued` for ever. */
export function notAcceptedStatus(
  id: string,
  deps: Pick<SubmitFormDeps, 'messages' | 'log' | 'clock'>,
): Promise<void> {
  return recordStatus(deps.messages, deps.log, id, {
    status: 'failed',
    at: isoNow(deps.clock),
    detail: 'not accepted: the mail queue could not be reached',
  });
}

function isoNow(clock: { now(): number }): string {
  return new Date(clock.now()).toISOString();
}

const unavailableVerifier: CaptchaVerifier = {
  verify: () => Promise.reject(new Error('no captcha verifier is configured')),
};

/** Guard state lives in the table; when it cannot be reached the form fails closed with a 503. */
export async function guarded<T>(step: () => Promise<T>, log: Log): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof HttpError) throw error;
    log.error('guard store failed', { outcome: 'guard-failed', error: errorName(error) });
    throw new ServiceUnavailableError('Mail cannot be accepted right now; try again shortly.', 5);
  }
}

/** `GET /health`: 200 when mail can be accepted, which needs the queue. */
export async function checkHealth(queue: MailQueue, log: Log): Promise<HttpResponse> {
  try {
    await queue.ping();
    return jsonResponse(200, { status: 'ok' }, { 'cache-control': 'no-store' });
  } catch (error) {
    log.error('health check failed', { error: errorName(error) });
    return problemResponse(new ServiceUnavailableError('The mail queue cannot be reached.', 5), {
      'cache-control': 'no-store',
    });
  }
}

function accepted(
  id: string,
  redirect: string | undefined,
  wantsJson: boolean,
  cors: Record<string, string>,
): HttpResponse {
  if (wantsJson) return jsonResponse(202, { id }, cors);
  if (redirect) return { status: 303, headers: { ...cors, location: redirect }, body: '' };
  return {
    status: 200,
    headers: { ...cors, 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><title>Thank you</title><p>Thank you, your message was sent.</p>`,
  };
}

function acceptsJson(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*application\/(json|problem\+json)\s*(;|,|$)/i.test(accept);
}
