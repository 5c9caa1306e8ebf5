import { InvalidIdempotencyKeyError, readIdempotencyKey } from '../api/idempotency';
import { cancelMessage, rescheduleMessage } from '../api/scheduled-messages';
import {
  answering,
  authenticated,
  getMessage,
  type SendApiDeps,
  sendBatch,
  sendMessage,
} from '../api/send-api';
import { sendRequestSchema, validateSendRequest } from '../api/send-request';
import { type FieldError, ValidationError } from '../errors';
import { type HttpRequest, type HttpResponse, jsonResponse, mediaType } from '../http';
import { type RequestFacts, requestFacts, resendError, resendErrorResponse } from './resend-errors';
import {
  type CoreMessageView,
  fieldErrorsMessage,
  rescheduleBodyFromResend,
  resendEmailObject,
  sendBodyFromResend,
} from './resend-wire';

/**
 * The Resend-compatible surface, `/resend/...`: Resend's official SDKs work against it with their base URL
 * set to `<api>/resend`. Each route translates the request into the core's (resend-wire.ts), calls the very
 * handler `/v1` uses (same API keys, limits, suppression, idempotency, statuses) and translates the answer.
 * Loaded by import() from the send function, so requests that do not use it never load it. docs/resend.md.
 */
export const RESEND_ROUTES = {
  emails: '/resend/emails',
  batch: '/resend/emails/batch',
  email: '/resend/emails/{emailId}',
  cancel: '/resend/emails/{emailId}/cancel',
} as const;

export async function routeResend(
  resource: string,
  method: string,
  emailId: string,
  request: HttpRequest,
  deps: SendApiDeps,
): Promise<HttpResponse> {
  switch (resource) {
    case RESEND_ROUTES.emails:
      return method === 'POST' ? sendEmail(request, deps) : notAllowed('POST');
    case RESEND_ROUTES.batch:
      return method === 'POST' ? sendEmails(request, deps) : notAllowed('POST');
    case RESEND_ROUTES.email:
      if (method === 'GET') return getEmail(emailId, request, deps);
      if (method === 'PATCH') return updateEmail(emailId, request, deps);
      return notAllowed('GET, PATCH');
    case RESEND_ROUTES.cancel:
      return method === 'POST' ? cancelEmail(emailId, request, deps) : notAllowed('POST');
    default:
      return resendError(404, 'not_found', 'The requested endpoint does not exist.');
  }
}

/** `POST /emails`: `200 {id}` (the core answers 202). */
async function sendEmail(request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  const facts = factsOf(request);
  const response = await sendMessage(translated(request, deps, sendBodyFromResend), deps);
  if (response.status !== 202) return resendErrorResponse(response, facts);
  const { id } = JSON.parse(response.body) as { id: string };
  return jsonResponse(200, { id }, withoutContentType(response.headers));
}

/**
 * `POST /emails/batch`: a JSON array of emails, `200 {data: [{id}]}`. With `x-batch-validation: strict` (the
 * SDK's default) a batch with an invalid email is refused whole, 422, and nothing is sent, as on Resend; the
 * core's schema decides. What only the send itself finds (a suppressed recipient, a template's variables, a
 * time) refuses that email alone: it is reported in `errors` beside the others' ids, as in permissive mode,
 * rather than refusing a batch part of which was accepted.
 */
async function sendEmails(request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  const facts = factsOf(request);
  const permissive = request.headers['x-batch-validation']?.trim().toLowerCase() === 'permissive';
  const emails = readJson(request, deps);
  // Not a list: the core answers it (401 first, then its 400, 413, 415 or 422), as for any batch.
  if (!Array.isArray(emails)) return fromCore(await sendBatch(request, deps), facts, batchAnswer(permissive));
  const messages = emails.map(sendBodyFromResend);
  if (!permissive) {
    const schema = sendRequestSchema(deps.config);
    const errors = messages.flatMap((message, index) => {
      const validated = validateSendRequest(schema, message);
      return validated.ok
        ? []
        : validated.errors.map((error) => ({ ...error, field: `[${index}].${error.field}` }));
    });
    if (errors.length > 0) {
      // The key is checked first, as the core does: an anonymous request learns nothing and is counted.
      const refused = await answering(deps, async () => {
        await authenticated(request, deps);
        throw new ValidationError(errors);
      });
      return resendErrorResponse(refused, facts);
    }
  }
  const response = await sendBatch(withBody(request, { messages }), deps);
  return fromCore(response, facts, batchAnswer(permissive));
}

/** The core's `{results: [{index, id} | {index, errors}]}` as Resend's `{data: [{id}], errors: [{index, message}]}`. */
function batchAnswer(permissive: boolean) {
  return (body: unknown) => {
    const results = (body as { results: Array<{ index: number; id?: string; errors?: FieldError[] }> })
      .results;
    const data = results.flatMap((result) => (result.id === undefined ? [] : [{ id: result.id }]));
    const errors = results.flatMap((result) =>
      result.errors === undefined
        ? []
        : [{ index: result.index, message: fieldErrorsMessage(result.errors) }],
    );
    return permissive || errors.length > 0 ? { data, errors } : { data };
  };
}

/** `GET /emails/{id}`: Resend's email object. */
async function getEmail(id: string, request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  const response = await getMessage(id, request, deps);
  return fromCore(response, factsOf(request), (body) => resendEmailObject(body as CoreMessageView));
}

/** `PATCH /emails/{id}` `{scheduled_at}`: moves a scheduled email; `200 {object, id}`. */
async function updateEmail(id: string, request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  const response = await rescheduleMessage(id, translated(request, deps, rescheduleBodyFromResend), deps);
  return fromCore(response, factsOf(request), () => ({ object: 'email', id }));
}

/** `POST /emails/{id}/cancel`: `200 {object, id}`; the SDK sends no body. */
async function cancelEmail(id: string, request: HttpRequest, deps: SendApiDeps): Promise<HttpResponse> {
  const response = await cancelMessage(id, request, deps);
  return fromCore(response, factsOf(request), () => ({ object: 'email', id }));
}

function fromCore(
  response: HttpResponse,
  facts: RequestFacts,
  answer: (body: unknown) => unknown,
): HttpResponse {
  if (response.status !== 200) return resendErrorResponse(response, facts);
  return jsonResponse(200, answer(JSON.parse(response.body)), withoutContentType(response.headers));
}

function factsOf(request: HttpRequest): RequestFacts {
  return requestFacts(request, (keyed) => {
    try {
      readIdempotencyKey(keyed);
      return true;
    } catch (error) {
      // The core's own 400 for a malformed key (api/idempotency.ts); anything else is not this question's.
      if (error instanceof InvalidIdempotencyKeyError) return false;
      throw error;
    }
  });
}

/**
 * The request with its JSON body translated; a body that is not JSON, not declared JSON or too large is
 * handed on unchanged, so the core answers it (after the API key, as always) with its own 400, 415 or 413.
 */
function translated(
  request: HttpRequest,
  deps: SendApiDeps,
  translate: (body: unknown) => unknown,
): HttpRequest {
  const body = readJson(request, deps);
  return body === NOT_JSON ? request : withBody(request, translate(body));
}

const NOT_JSON = Symbol('not JSON');

function readJson(request: HttpRequest, deps: SendApiDeps): unknown {
  if (request.body.length === 0 || request.body.length > deps.config.api.maxBodyBytes) return NOT_JSON;
  if (mediaType(request.headers['content-type']) !== 'application/json') return NOT_JSON;
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    return NOT_JSON;
  }
}

function withBody(request: HttpRequest, body: unknown): HttpRequest {
  return { ...request, body: Buffer.from(JSON.stringify(body), 'utf8') };
}

function withoutContentType(headers: Record<string, string>): Record<string, string> {
  const { 'content-type': _, ...rest } = headers;
  return rest;
}

function notAllowed(allow: string): HttpResponse {
  return resendError(405, 'method_not_allowed', `Use ${allow}.`, { allow });
}
