import type { FieldError } from '../errors';
import { type HttpRequest, type HttpResponse, jsonResponse } from '../http';
import { fieldErrorsMessage } from './resend-wire';

/**
 * The core's RFC 9457 problems as Resend's errors, `{statusCode, name, message}`, named as Resend names them.
 * The translation reads only what the core answered (its status and problem members) and what the request
 * carried, so it follows the core: the same key refused, the same limit hit, the same field at fault.
 * https://resend.com/docs/api-reference/errors
 */
export type ResendErrorName =
  | 'validation_error'
  | 'missing_api_key'
  | 'invalid_api_key'
  | 'invalid_idempotency_key'
  | 'invalid_idempotent_request'
  | 'concurrent_idempotent_requests'
  | 'not_found'
  | 'method_not_allowed'
  | 'rate_limit_exceeded'
  | 'application_error';

export interface ResendError {
  readonly statusCode: number;
  readonly name: ResendErrorName;
  readonly message: string;
}

/** What of the request decides a name: whether it carried a key, and an Idempotency-Key the core took. */
export interface RequestFacts {
  readonly hasApiKey: boolean;
  readonly idempotencyKey: 'absent' | 'valid' | 'malformed';
}

interface Problem {
  readonly status?: number;
  readonly title?: string;
  readonly detail?: string;
  readonly errors?: ReadonlyArray<FieldError>;
  readonly messageStatus?: string;
}

/**
 * Resend's name and status for a core answer. Where Resend documents a status for the name it is used
 * (`invalid_api_key` is 403 there, 401 in the core; a reused Idempotency-Key is 409 there); elsewhere the
 * core's status stands.
 */
export function resendErrorFor(status: number, problem: Problem, facts: RequestFacts): ResendError {
  const message = messageOf(problem);
  const named = (name: ResendErrorName, statusCode = status): ResendError => ({ statusCode, name, message });
  switch (status) {
    case 400:
      return named(facts.idempotencyKey === 'malformed' ? 'invalid_idempotency_key' : 'validation_error');
    case 401:
      return facts.hasApiKey ? named('invalid_api_key', 403) : named('missing_api_key');
    case 404:
      return named('not_found');
    case 405:
      return named('method_not_allowed');
    case 409:
      // A scheduled message that is no longer scheduled (cancel, PATCH) carries its status.
      if (problem.messageStatus !== undefined || facts.idempotencyKey !== 'valid')
        return named('validation_error');
      // The core follows the IETF idempotency draft: 409 for a key whose first request is still in flight.
      return named('concurrent_idempotent_requests');
    case 422:
      // The draft's "same key, other payload" is a 422 naming the Idempotency-Key header; Resend says 409.
      if (
        facts.idempotencyKey === 'valid' &&
        problem.errors?.some((error) => error.field.toLowerCase() === 'idempotency-key')
      )
        return named('invalid_idempotent_request', 409);
      return named('validation_error');
    case 429:
      return named('rate_limit_exceeded');
    default:
      return status >= 500 ? named('application_error') : named('validation_error');
  }
}

function messageOf(problem: Problem): string {
  if (problem.errors !== undefined && problem.errors.length > 0) return fieldErrorsMessage(problem.errors);
  return problem.detail ?? problem.title ?? 'The request was refused.';
}

/**
 * A core answer that is an error, as Resend's. The core's headers (Retry-After, rate-limit headers, Allow)
 * are kept; WWW-Authenticate only where the answer stays a 401.
 */
export function resendErrorResponse(response: HttpResponse, facts: RequestFacts): HttpResponse {
  const error = resendErrorFor(response.status, parseProblem(response.body), facts);
  const headers = { ...response.headers };
  delete headers['content-type'];
  if (error.statusCode !== 401) delete headers['www-authenticate'];
  return { ...jsonResponse(error.statusCode, error, headers) };
}

/** A Resend error the translation itself answers (an unknown path, a wrong method). */
export function resendError(
  statusCode: number,
  name: ResendErrorName,
  message: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return jsonResponse(statusCode, { statusCode, name, message } satisfies ResendError, headers);
}

function parseProblem(body: string): Problem {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Problem) : {};
  } catch {
    return {};
  }
}

// RFC 6750 section 2.1, as core/api/api-keys.ts reads it: a scheme and a token.
const BEARER_WITH_TOKEN = /^\s*Bearer +\S/i;

export function requestFacts(
  request: HttpRequest,
  idempotencyKeyOk: (request: HttpRequest) => boolean,
): RequestFacts {
  const given = request.headers['idempotency-key'];
  return {
    hasApiKey: BEARER_WITH_TOKEN.test(request.headers.authorization ?? ''),
    idempotencyKey: given === undefined ? 'absent' : idempotencyKeyOk(request) ? 'valid' : 'malformed',
  };
}
