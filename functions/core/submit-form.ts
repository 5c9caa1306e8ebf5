import { maskAddress } from './address';
import { type FormConfig, findForm, type PostroomConfig } from './config';
import {
  errorName,
  ForbiddenOriginError,
  HttpError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
} from './errors';
import { bodyFormat, parseFormBody } from './form-body';
import { buildFormMailJob, validateSubmission } from './form-submission';
import { type HttpRequest, type HttpResponse, jsonResponse, problemResponse } from './http';
import { MAX_MAIL_JOB_BYTES, mailJobBytes } from './mail-job';
import { METRIC, type Metrics } from './metrics';
import type { Clock, Log, MailQueue } from './ports';

export interface SubmitFormDeps {
  readonly config: PostroomConfig;
  readonly queue: MailQueue;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly log: Log;
  readonly metrics: Metrics;
}

/** Fields a form may hold besides email, name, message and the underscore controls. */
const RESERVED_FIELDS = 8;

/**
 * CORS for a form: a browser request carries Origin, and only the form's allowed origins may post.
 * Requests without Origin (curl, a backend) are not cross-origin browser requests and need no CORS.
 * https://fetch.spec.whatwg.org/#http-cors-protocol
 */
function corsHeaders(form: FormConfig, origin: string | undefined): Record<string, string> {
  if (origin === undefined) return {};
  if (!form.allowedOrigins.includes(origin)) throw new ForbiddenOriginError();
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

function requireForm(config: PostroomConfig, formId: string): FormConfig {
  const form = findForm(config, formId);
  if (!form) throw new NotFoundError(`There is no form "${formId.slice(0, 64)}".`);
  return form;
}

/** `OPTIONS /v1/forms/{formId}`: the CORS preflight a browser sends before a JSON fetch. */
export function preflightForm(config: PostroomConfig, formId: string, request: HttpRequest): HttpResponse {
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
    if (error instanceof HttpError) return problemResponse(error);
    throw error;
  }
}

/** `POST /v1/forms/{formId}`: validate, render, enqueue. */
export async function submitForm(
  formId: string,
  request: HttpRequest,
  deps: SubmitFormDeps,
): Promise<HttpResponse> {
  const { config, log } = deps;
  let cors: Record<string, string> = {};
  try {
    const form = requireForm(config, formId);
    cors = corsHeaders(form, request.headers.origin);
    if (request.body.length > config.api.maxBodyBytes)
      throw new PayloadTooLargeError(`The request body is larger than ${config.api.maxBodyBytes} bytes.`);

    const contentType = request.headers['content-type'];
    const wantsJson = bodyFormat(contentType) === 'json' || acceptsJson(request.headers.accept);
    const fields = await parseFormBody(contentType, request.body, {
      maxFields: form.maxExtraFields + RESERVED_FIELDS,
      maxFieldLength: form.maxFieldLength,
    });
    const submission = validateSubmission(fields, form);
    const id = deps.newId();

    if (submission.honeypotFilled) {
      // Answer exactly as for a success, so a bot learns nothing, and send nothing.
      log.info('submission dropped by honeypot', {
        formId,
        jobId: id,
        outcome: 'spam-blocked',
        guard: 'honeypot',
      });
      deps.metrics.count(METRIC.spamBlocked);
      return accepted(id, form, wantsJson, cors);
    }

    const job = buildFormMailJob(config, form, submission, { id, createdAt: new Date(deps.clock.now()) });
    // Escaping can make the rendered mail several times the size of the body; a job must fit in SQS.
    if (mailJobBytes(job) > MAX_MAIL_JOB_BYTES)
      throw new PayloadTooLargeError('The message is too large to send.');
    try {
      await deps.queue.enqueue(job);
    } catch (error) {
      log.error('enqueue failed', { formId, jobId: id, outcome: 'enqueue-failed', error: errorName(error) });
      throw new ServiceUnavailableError('Mail cannot be accepted right now; try again shortly.', 5);
    }
    deps.metrics.count(METRIC.accepted);
    log.info('submission accepted', {
      formId,
      jobId: id,
      outcome: 'accepted',
      replyTo: maskAddress(submission.email.address),
    });
    return accepted(id, form, wantsJson, cors);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    log.info('submission rejected', {
      formId: formId.slice(0, 64),
      outcome: 'rejected',
      status: error.status,
    });
    if (error.status < 500) deps.metrics.count(METRIC.rejected);
    return problemResponse(error, cors);
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
  form: FormConfig,
  wantsJson: boolean,
  cors: Record<string, string>,
): HttpResponse {
  if (wantsJson) return jsonResponse(202, { id }, cors);
  if (form.redirectUrl) return { status: 303, headers: { ...cors, location: form.redirectUrl }, body: '' };
  return {
    status: 200,
    headers: { ...cors, 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><title>Thank you</title><p>Thank you, your message was sent.</p>`,
  };
}

function acceptsJson(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*application\/(json|problem\+json)\s*(;|,|$)/i.test(accept);
}
