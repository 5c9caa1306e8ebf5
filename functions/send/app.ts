import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { toHttpRequest, toProxyResult } from '../adapters/lambda-http';
import { openApiDocument } from '../core/api/openapi';
import { cancelMessage, rescheduleMessage } from '../core/api/scheduled-messages';
import {
  getMessage,
  renderTemplatePreview,
  type SendApiDeps,
  sendBatch,
  sendMessage,
} from '../core/api/send-api';
import type { ArchiveReader } from '../core/archive/submission-archive';
import { errorName, HttpError, MethodNotAllowedError, NotFoundError } from '../core/errors';
import { checkHealth, preflightForm, submitForm } from '../core/forms/submit-form';
import { problemResponse } from '../core/http';
import type { Log } from '../core/ports';

/**
 * The API function: `POST|OPTIONS /v1/forms/{formId}`, `POST /v1/send`, `POST /v1/send/batch`,
 * `GET|PATCH /v1/messages/{messageId}`, `POST /v1/messages/{messageId}/cancel`, `POST /v1/templates/{templateId}/render`, `GET /v1/openapi.json`, `GET /health`, and the Resend-compatible `/resend/emails...`. A thin adapter from the API Gateway REST proxy event to
 * the core; the same handler serves Lambda and the local stack.
 */
export function createSendHandler(deps: SendApiDeps & { archiveReader?: ArchiveReader | undefined }) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .handler(async (event) => toProxyResult(await route(event, deps)))
    .onError(async (request) => {
      if (isEarlyTimeout(request.error)) {
        // middy answers just before Lambda's timeout, while the request's work (the enqueue) may still be in
        // flight and may yet finish: the outcome is unknown, and saying "not accepted" would invite a retry
        // that sends the mail twice. An Idempotency-Key makes the retry safe.
        deps.log.error('request ran out of time; its outcome is unknown', { path: request.event.resource });
        request.response = toProxyResult(problemResponse(new OutcomeUnknownError()));
        return;
      }
      // Anything that escaped the core is ours: log its kind, answer without internals.
      deps.log.error('unhandled error', { error: errorName(request.error), path: request.event.resource });
      request.response = toProxyResult(
        problemResponse(
          new HttpError(500, 'Internal Server Error', 'Something went wrong; the mail was not accepted.'),
        ),
      );
    });
}

async function route(
  event: APIGatewayProxyEvent,
  unscoped: SendApiDeps & { archiveReader?: ArchiveReader | undefined },
) {
  const request = toHttpRequest(event);
  // Every line this request logs carries its correlation id, as the relay's lines for its jobs do.
  const deps = { ...unscoped, log: new CorrelatedLog(unscoped.log, request.correlationId) };
  switch (event.resource) {
    case '/v1/forms/{formId}': {
      const formId = event.pathParameters?.formId ?? '';
      if (event.httpMethod === 'POST') return submitForm(formId, request, deps);
      if (event.httpMethod === 'OPTIONS') return preflightForm(deps.config, formId, request, deps.log);
      return problemResponse(new MethodNotAllowedError('POST, OPTIONS'));
    }
    case '/v1/forms/{formId}/submissions': {
      if (event.httpMethod !== 'GET') return problemResponse(new MethodNotAllowedError('GET'));
      // Loaded by the first read: sending never needs it.
      const { listSubmissions } = await import('../core/archive/submissions-api');
      return listSubmissions(
        event.pathParameters?.formId ?? '',
        request,
        event.queryStringParameters ?? {},
        deps,
      );
    }
    case '/v1/send':
      if (event.httpMethod === 'POST') return sendMessage(request, deps);
      return problemResponse(new MethodNotAllowedError('POST'));
    case '/v1/send/batch':
      if (event.httpMethod === 'POST') return sendBatch(request, deps);
      return problemResponse(new MethodNotAllowedError('POST'));
    case '/v1/messages/{messageId}':
      if (event.httpMethod === 'GET') return getMessage(event.pathParameters?.messageId ?? '', request, deps);
      if (event.httpMethod === 'PATCH')
        return rescheduleMessage(event.pathParameters?.messageId ?? '', request, deps);
      return problemResponse(new MethodNotAllowedError('GET, PATCH'));
    case '/v1/messages/{messageId}/cancel':
      if (event.httpMethod === 'POST')
        return cancelMessage(event.pathParameters?.messageId ?? '', request, deps);
      return problemResponse(new MethodNotAllowedError('POST'));
    case '/v1/templates/{templateId}/render':
      if (event.httpMethod === 'POST')
        return renderTemplatePreview(event.pathParameters?.templateId ?? '', request, deps);
      return problemResponse(new MethodNotAllowedError('POST'));
    case '/v1/openapi.json':
      if (event.httpMethod === 'GET' || event.httpMethod === 'HEAD') return openApiDocument();
      return problemResponse(new MethodNotAllowedError('GET'));
    case '/health':
      if (event.httpMethod === 'GET' || event.httpMethod === 'HEAD') return checkHealth(deps.queue, deps.log);
      return problemResponse(new MethodNotAllowedError('GET'));
    default:
      // The Resend-compatible surface (docs/resend.md) loads with its first request, not at cold start.
      if (event.resource.startsWith('/resend/')) {
        const { routeResend } = await import('../core/resend/resend-api');
        return routeResend(
          event.resource,
          event.httpMethod,
          event.pathParameters?.emailId ?? '',
          request,
          deps,
        );
      }
      return problemResponse(new NotFoundError('No such route.'));
  }
}

/**
 * The function's log with the request's correlation id on every line, as the relay's lines for its jobs
 * carry theirs. One object per request, no closures: this is made for every request served.
 */
class CorrelatedLog implements Log {
  constructor(
    private readonly log: Log,
    private readonly correlationId: string | undefined,
  ) {}

  info(message: string, attributes?: Record<string, unknown>): void {
    this.log.info(message, { correlationId: this.correlationId, ...attributes });
  }

  warn(message: string, attributes?: Record<string, unknown>): void {
    this.log.warn(message, { correlationId: this.correlationId, ...attributes });
  }

  error(message: string, attributes?: Record<string, unknown>): void {
    this.log.error(message, { correlationId: this.correlationId, ...attributes });
  }
}

/** The error middy answers with just before the function's timeout (its `timeoutEarlyResponse`). */
function isEarlyTimeout(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'TimeoutError' &&
    (error.cause as { package?: unknown } | undefined)?.package === '@middy/core'
  );
}

/** 503: the request ran out of time before its outcome was known. */
class OutcomeUnknownError extends HttpError {
  constructor() {
    super(
      503,
      'Service Unavailable',
      'The request ran out of time before Postroom could confirm it: the mail may or may not have been accepted. Retry with the same Idempotency-Key (a key that was accepted is never sent twice), or look the message up before sending it again.',
      { headers: { 'retry-after': '1' } },
    );
    this.name = 'OutcomeUnknownError';
  }
}
