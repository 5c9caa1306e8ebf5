import * as z from 'zod/mini';
import { createDocument } from 'zod-openapi';
import { AUTH_FAILURE_LIMIT, KEY_SCOPES } from '../../functions/core/api/api-keys';
import { IDEMPOTENCY_WINDOW_SECONDS, MAX_IDEMPOTENCY_KEY_LENGTH } from '../../functions/core/api/idempotency';
import { MAX_BATCH_MESSAGES } from '../../functions/core/api/send-api';
import { sendRequestSchema } from '../../functions/core/api/send-request';
import { FOLDERS, SPAM_REASONS } from '../../functions/core/archive/submission-archive';
import { MAX_PAGE_SIZE } from '../../functions/core/archive/submissions-api';
import { type PostroomConfig, parseConfig } from '../../functions/core/config/config';
import { MAX_RECIPIENTS } from '../../functions/core/mail/mail-job';
import { MESSAGE_STATUSES } from '../../functions/core/messages';
import { WEBHOOK_EVENT_TYPES } from '../../functions/core/webhooks/event-types';

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the send function validates
 * requests with (functions/core/api/send-request.ts): `npm run openapi` writes it to openapi.json, and
 * test/unit/openapi.test.ts fails when the committed file drifts from what this builds. Response bodies are
 * described here, as the core builds them by hand; test/integration/openapi-examples.test.ts sends every
 * example to the local stack and checks each answer against these schemas.
 *
 * Examples are named so that a test can pair them: a request example (or a path parameter example, for an
 * operation without a body) and the response example of the same name under the status it is answered with.
 */

/** The message id the examples use; the examples test replaces it with one it created. */
export const SAMPLE_MESSAGE_ID = '0b7c9e2a-3f41-4d6e-9a58-2c1d7e4f6a90';
/** A time the examples schedule for; the examples test replaces it with one a day ahead. */
export const SAMPLE_SCHEDULED_AT = '2030-01-15T09:30:00Z';

/** Document-wide options. The sender domain only shows in descriptions: it is each stack's own. */
const SAMPLE_CONFIG = {
  region: 'eu-west-1',
  sender: 'Postroom <no-reply@example.com>',
  forms: [
    {
      id: 'contact',
      recipients: ['owner@example.com'],
      subject: 'Contact form',
      allowedOrigins: ['https://www.example.com'],
    },
  ],
};

// ---- Response bodies -------------------------------------------------------------------------------------

const fieldError = z.object({
  field: z.string(),
  detail: z.string(),
});

const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().check(z.int()),
    detail: z.string(),
    errors: z.optional(z.array(fieldError)),
  })
  .register(z.globalRegistry, {
    id: 'Problem',
    description:
      'RFC 9457 problem details. `errors` lists each field at fault by the name the client gave it (`to[0]`, ' +
      '`template.variables.name`), or the request header at fault (`Idempotency-Key`).',
  });

const notScheduledProblem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.literal(409),
    detail: z.string(),
    id: z.string(),
    messageStatus: z.enum(MESSAGE_STATUSES),
    scheduledAt: z.optional(z.string()),
  })
  .register(z.globalRegistry, {
    id: 'NotScheduledProblem',
    description: 'The message is no longer `scheduled`: its current status, so a client need not GET it.',
  });

const accepted = z
  .object({
    id: z.string().register(z.globalRegistry, { description: 'The message id (a UUID).' }),
    status: z.optional(z.literal('scheduled')),
    scheduledAt: z.optional(
      z.string().register(z.globalRegistry, { description: 'When it will be sent, UTC, to the second.' }),
    ),
  })
  .register(z.globalRegistry, { id: 'Accepted', description: 'The message was queued (or scheduled).' });

const batchResults = z
  .object({
    results: z.array(
      z.object({
        index: z.number().check(z.int()),
        id: z.optional(z.string()),
        status: z.optional(z.literal('scheduled')),
        scheduledAt: z.optional(z.string()),
        errors: z.optional(z.array(fieldError)),
      }),
    ),
  })
  .register(z.globalRegistry, {
    id: 'BatchResults',
    description: 'One result per message, in order: `id` when it was queued, `errors` when it was refused.',
  });

const statusChange = z.object({
  status: z.enum(MESSAGE_STATUSES),
  at: z.string(),
  detail: z.optional(z.string()),
  refused: z.optional(z.array(z.object({ recipient: z.string(), code: z.number(), reply: z.string() }))),
});

const message = z
  .object({
    id: z.string(),
    status: z.enum(MESSAGE_STATUSES),
    scheduledAt: z.optional(z.string()),
    history: z.array(statusChange),
  })
  .register(z.globalRegistry, { id: 'Message', description: 'A message and its status history.' });

const canceled = z.object({ id: z.string(), status: z.literal('canceled') });
const rescheduled = z.object({ id: z.string(), status: z.literal('scheduled'), scheduledAt: z.string() });
const rendered = z
  .object({ subject: z.string(), html: z.string(), text: z.string(), version: z.string() })
  .register(z.globalRegistry, { id: 'RenderedTemplate' });
const health = z.object({ status: z.literal('ok') });

const archivedSubmission = z.object({
  id: z.string().register(z.globalRegistry, { description: 'The submission id (a UUID).' }),
  status: z.enum(FOLDERS),
  receivedAt: z.string().register(z.globalRegistry, { description: 'When it was received, ISO 8601 UTC.' }),
  spamReason: z.optional(
    z.enum(SPAM_REASONS).register(z.globalRegistry, { description: 'Why it is in the spam folder.' }),
  ),
  fields: z.record(z.string(), z.string()).register(z.globalRegistry, {
    description: 'email, name (when given), message, then the other fields in the order they came.',
  }),
  files: z.array(z.object({ name: z.string(), contentType: z.string(), size: z.number().check(z.int()) })),
});
const submissionsPage = z
  .object({
    submissions: z.array(archivedSubmission),
    cursor: z.optional(
      z.string().register(z.globalRegistry, {
        description: 'Present when there may be more: pass it as `cursor` for the next page.',
      }),
    ),
  })
  .register(z.globalRegistry, {
    id: 'SubmissionsPage',
    description: `Up to \`limit\` submissions, newest first. A page can hold fewer (even none) while \`cursor\` is present: expired submissions not yet deleted are skipped; read on until \`cursor\` is absent.`,
  });
const formAccepted = z.object({ id: z.string() });

// ---- Request bodies besides the send request ---------------------------------------------------------------

const rescheduleRequest = z.strictObject({
  scheduledAt: z.string().register(z.globalRegistry, {
    description: 'The new time: ISO 8601 with an offset, in the future, within schedule.maxDays.',
  }),
});
const renderRequest = z.strictObject({
  variables: z.optional(z.record(z.string(), z.unknown())),
});
const formFields = z.looseObject({
  email: z.string(),
  name: z.optional(z.string()),
  message: z.string(),
  _next: z.optional(z.string()),
});

// ---- Headers -------------------------------------------------------------------------------------------------

const RATE_LIMIT_DRAFT = 'https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/10/';
const IDEMPOTENCY_DRAFT = 'https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/07/';

const HEADERS = {
  'RateLimit-Policy': {
    description: `The quota policies the request was counted in (${RATE_LIMIT_DRAFT}): \`"per-ip";q=5;w=60\` is 5 requests per 60-second window. Forms: \`per-ip\`, \`per-form\`; API routes: \`failed-auth\` (${AUTH_FAILURE_LIMIT.max} failed authentications per IP per ${AUTH_FAILURE_LIMIT.windowSeconds} s), on 401 and 429.`,
    schema: { type: 'string' },
    example: '"per-ip";q=5;w=60, "per-form";q=100;w=3600',
  },
  RateLimit: {
    description: `What is left of each policy (${RATE_LIMIT_DRAFT}): \`r\` units remain, the window resets in \`t\` seconds.`,
    schema: { type: 'string' },
    example: '"per-ip";r=4;t=42, "per-form";r=99;t=1242',
  },
  'Retry-After': {
    description: 'Seconds to wait before sending again (RFC 9110 section 10.2.3).',
    schema: { type: 'integer', minimum: 1 },
    example: 42,
  },
  'WWW-Authenticate': {
    description: 'The scheme to authenticate with (RFC 6750 section 3).',
    schema: { type: 'string' },
    example: 'Bearer realm="postroom"',
  },
  'Idempotent-Replayed': {
    description:
      'Present (`true`) when this answer replays an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
  Location: { description: 'The thank-you page.', schema: { type: 'string', format: 'uri' } },
  WebhookId: {
    description:
      'The event id (`msg_...`): the same on every retry and replay; drop an id you have processed.',
    schema: { type: 'string' },
    example: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
  },
  WebhookTimestamp: {
    description: 'When this attempt was signed, Unix seconds: refuse one more than 5 minutes off your clock.',
    schema: { type: 'string' },
    example: '1767225600',
  },
  WebhookSignature: {
    description:
      'Standard Webhooks signatures, space-separated `v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` ' +
      "with the endpoint's secret (https://www.standardwebhooks.com); several during a secret rotation.",
    schema: { type: 'string' },
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  },
} as const;

type HeaderName = keyof typeof HEADERS;

function headerRefs(...names: ReadonlyArray<HeaderName>): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

// ---- Responses -----------------------------------------------------------------------------------------------

type Examples = Record<string, { summary?: string; value: unknown }>;

function problemExample(status: number, title: string, detail: string, errors?: unknown[]) {
  return { type: 'about:blank', title, status, detail, ...(errors ? { errors } : {}) };
}

function problemResponse(
  description: string,
  examples: Examples,
  headers: Record<string, { $ref: string }> = {},
  schema: z.ZodMiniType = problem,
) {
  return {
    description,
    headers,
    content: { 'application/problem+json': { schema, examples } },
  };
}

const AUTH_LIMITS = headerRefs('RateLimit-Policy', 'RateLimit');

const COMMON = {
  badJson: problemExample(400, 'Bad Request', 'The body is not valid JSON.'),
  unauthorized: problemResponse(
    'No API key, an unknown one or a revoked one. Counted in the `failed-auth` quota.',
    {
      missingKey: {
        value: problemExample(
          401,
          'Unauthorized',
          'An API key is required: send Authorization: Bearer <key>.',
        ),
      },
    },
    { ...headerRefs('WWW-Authenticate'), ...AUTH_LIMITS },
  ),
  forbiddenSend: problemResponse(
    'The API key does not have the `send` scope (a key made to read submissions).',
    {
      withoutScope: {
        value: problemExample(403, 'Forbidden', 'This API key does not have the send scope.'),
      },
    },
  ),
  tooManyFailures: problemResponse(
    `More than ${AUTH_FAILURE_LIMIT.max} failed authentications from this IP in ${AUTH_FAILURE_LIMIT.windowSeconds} s. API Gateway's stage throttling answers 429 too, without the RateLimit fields.`,
    {
      tooMany: {
        value: problemExample(
          429,
          'Too Many Requests',
          'Too many requests with a missing or wrong API key; try again later.',
        ),
      },
    },
    { ...headerRefs('Retry-After'), ...AUTH_LIMITS },
  ),
  tooLarge: problemResponse('The body is larger than api.maxBodyBytes, or the message too large to queue.', {
    tooLarge: {
      value: problemExample(413, 'Content Too Large', 'The request body is larger than 1048576 bytes.'),
    },
  }),
  unsupported: problemResponse('The body is not application/json.', {
    unsupported: { value: problemExample(415, 'Unsupported Media Type', 'Send application/json.') },
  }),
  unavailable: problemResponse(
    'The queue or the table cannot be reached: nothing was sent; send again after Retry-After.',
    {
      unavailable: {
        value: problemExample(
          503,
          'Service Unavailable',
          'Mail cannot be accepted right now; try again shortly.',
        ),
      },
    },
    headerRefs('Retry-After'),
  ),
};

const IDEMPOTENCY_BAD = problemExample(
  400,
  'Bad Request',
  `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters.`,
  [
    {
      field: 'Idempotency-Key',
      detail: `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters.`,
    },
  ],
);
const IDEMPOTENCY_REUSED = problemExample(
  422,
  'Unprocessable Content',
  'This Idempotency-Key was used with a different payload in the last 24 hours.',
  [
    {
      field: 'Idempotency-Key',
      detail: 'This Idempotency-Key was used with a different payload in the last 24 hours.',
    },
  ],
);
const IDEMPOTENCY_IN_FLIGHT = problemExample(
  409,
  'Conflict',
  'A request with this Idempotency-Key is still being processed; retry shortly.',
  [
    {
      field: 'Idempotency-Key',
      detail: 'A request with this Idempotency-Key is still being processed; retry shortly.',
    },
  ],
);

// ---- Examples --------------------------------------------------------------------------------------------------

const SEND_EXAMPLES: Examples = {
  plain: {
    summary: 'Text and HTML',
    value: {
      from: 'Billing <billing@example.com>',
      to: 'ada@example.org',
      subject: 'Your receipt',
      text: 'Thank you for your order.',
      html: '<p>Thank you for your order.</p>',
      tags: [{ name: 'kind', value: 'receipt' }],
    },
  },
  template: {
    summary: 'A template and its variables',
    value: {
      from: 'no-reply@example.com',
      to: ['ada@example.org'],
      template: { id: 'welcome', variables: { name: 'Ada', actionUrl: 'https://example.com/start' } },
    },
  },
  scheduled: {
    summary: 'Sent later',
    value: {
      from: 'no-reply@example.com',
      to: 'ada@example.org',
      subject: 'Your trial ends tomorrow',
      text: 'Your trial ends tomorrow.',
      scheduledAt: SAMPLE_SCHEDULED_AT,
    },
  },
  invalid: {
    summary: 'Refused: an address without a domain',
    value: { from: 'no-reply@example.com', to: 'ada', subject: 'Hello', text: 'Hello.' },
  },
};

// ---- Operations ------------------------------------------------------------------------------------------------

/**
 * The scopes an operation needs, as OpenAPI 3.1 lets a non-OAuth scheme list them ("role names", section
 * 4.8.30.2): the requirements are alternatives, so the archive route names both of its scopes.
 */
const BEARER = [{ apiKey: ['send'] }];
const SUBMISSIONS_READER = [{ apiKey: ['submissions:read'] }, { apiKey: ['submissions:read:{formId}'] }];

function idempotencyParameter() {
  return { $ref: '#/components/parameters/IdempotencyKey' };
}

function messageIdParameter(examples: Record<string, string>) {
  return {
    name: 'messageId',
    in: 'path' as const,
    required: true,
    description: 'The id `POST /v1/send` answered with.',
    schema: { type: 'string' as const, format: 'uuid' },
    examples: Object.fromEntries(Object.entries(examples).map(([name, value]) => [name, { value }])),
  };
}

function json(schema: z.ZodMiniType, examples: Examples) {
  return { 'application/json': { schema, examples } };
}

let built: Record<string, unknown> | undefined;

/**
 * The document, as the send function serves it at `GET /v1/openapi.json`. Built once per process: the send
 * request schema is registered under its component id, which zod's registry holds once.
 */
export function buildOpenApiDocument(): Record<string, unknown> {
  built ??= build();
  return built;
}

function build(): Record<string, unknown> {
  const config: PostroomConfig = parseConfig(SAMPLE_CONFIG);
  const sendRequest = sendRequestSchema(config).register(z.globalRegistry, {
    id: 'SendRequest',
    description: 'One message: `html`/`text` or `template`, and optionally `scheduledAt`.',
  });
  const batchRequest = z.union([
    z.array(sendRequest).check(z.minLength(1), z.maxLength(MAX_BATCH_MESSAGES)),
    z.strictObject({
      messages: z.array(sendRequest).check(z.minLength(1), z.maxLength(MAX_BATCH_MESSAGES)),
    }),
  ]);

  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Postroom HTTP API',
      version: '1',
      description:
        'Contact forms and transactional mail, queued and relayed once through SES or SMTP. Every error is `application/problem+json` (RFC 9457). The transactional routes take an API key ' +
        '(`postroom keys create`) as `Authorization: Bearer <key>`; the form route is public and guarded by ' +
        'origin, rate limits, honeypot and captcha. Reference: docs/api.md.',
    },
    servers: [
      { url: 'http://127.0.0.1:3000', description: 'The local stack (`npm start`)' },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com/prod',
        description: 'A deployed stack: its `ApiUrl` output',
        variables: { apiId: { default: 'abc123' }, region: { default: 'eu-west-1' } },
      },
    ],
    tags: [
      { name: 'Send', description: 'Transactional mail, behind an API key.' },
      { name: 'Messages', description: 'Status, cancel and reschedule of one message.' },
      { name: 'Templates', description: 'Templates compiled at synth.' },
      { name: 'Forms', description: 'Public contact forms.' },
      { name: 'Submissions', description: "Forms' archived submissions, behind a scoped API key." },
      { name: 'Service', description: 'Health and this document.' },
    ],
    paths: {
      '/v1/send': {
        post: {
          operationId: 'sendEmail',
          tags: ['Send'],
          summary: 'Send one message',
          description:
            '`html`/`text` or `template: {id, variables}`; `scheduledAt` sends it later. `from` must be at the ' +
            `sending domain. With \`Idempotency-Key\` (${IDEMPOTENCY_DRAFT}) a retry within ${IDEMPOTENCY_WINDOW_SECONDS / 3600} hours answers what the first request did.`,
          security: BEARER,
          parameters: [idempotencyParameter()],
          requestBody: { required: true, content: json(sendRequest, SEND_EXAMPLES) },
          responses: {
            '202': {
              description:
                'Queued (or scheduled). A replay of an Idempotency-Key says `Idempotent-Replayed: true`.',
              headers: headerRefs('Idempotent-Replayed'),
              content: json(accepted, {
                plain: { value: { id: SAMPLE_MESSAGE_ID } },
                template: { value: { id: SAMPLE_MESSAGE_ID } },
                scheduled: {
                  value: { id: SAMPLE_MESSAGE_ID, status: 'scheduled', scheduledAt: SAMPLE_SCHEDULED_AT },
                },
              }),
            },
            '400': problemResponse('The body is not JSON, or the Idempotency-Key is malformed.', {
              badJson: { value: COMMON.badJson },
              badIdempotencyKey: { value: IDEMPOTENCY_BAD },
            }),
            '401': COMMON.unauthorized,
            '403': COMMON.forbiddenSend,
            '409': problemResponse(
              'A request with this Idempotency-Key is still in flight.',
              { inFlight: { value: IDEMPOTENCY_IN_FLIGHT } },
              headerRefs('Retry-After'),
            ),
            '413': COMMON.tooLarge,
            '415': COMMON.unsupported,
            '422': problemResponse(
              'A field is invalid, a recipient is suppressed, a template or its variables do not fit, or the Idempotency-Key was used with another payload.',
              {
                invalid: {
                  value: problemExample(422, 'Unprocessable Content', 'One or more fields are invalid.', [
                    { field: 'to[0]', detail: 'must be an email address (name@domain)' },
                  ]),
                },
                idempotencyKeyReused: { value: IDEMPOTENCY_REUSED },
              },
            ),
            '429': COMMON.tooManyFailures,
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/send/batch': {
        post: {
          operationId: 'sendBatch',
          tags: ['Send'],
          summary: `Send up to ${MAX_BATCH_MESSAGES} messages`,
          description:
            'A list of messages, bare or as `{messages: [...]}`. Each is validated and queued on its own: the ' +
            'answer is 200 with one result per message. Idempotency-Key is refused here (400): send each ' +
            'message with POST /v1/send to make it idempotent.',
          security: BEARER,
          requestBody: {
            required: true,
            content: json(batchRequest, {
              list: {
                summary: 'A bare list',
                value: [SEND_EXAMPLES.plain?.value, SEND_EXAMPLES.invalid?.value],
              },
              object: {
                summary: 'An object with messages',
                value: { messages: [SEND_EXAMPLES.plain?.value] },
              },
            }),
          },
          responses: {
            '200': {
              description: 'One result per message.',
              content: json(batchResults, {
                list: {
                  value: {
                    results: [
                      { index: 0, id: SAMPLE_MESSAGE_ID },
                      {
                        index: 1,
                        errors: [{ field: 'to[0]', detail: 'must be an email address (name@domain)' }],
                      },
                    ],
                  },
                },
                object: { value: { results: [{ index: 0, id: SAMPLE_MESSAGE_ID }] } },
              }),
            },
            '400': problemResponse('The body is not JSON, or an Idempotency-Key was sent.', {
              badJson: { value: COMMON.badJson },
            }),
            '401': COMMON.unauthorized,
            '403': COMMON.forbiddenSend,
            '413': COMMON.tooLarge,
            '415': COMMON.unsupported,
            '422': problemResponse('The body is not a list of 1 to 100 messages.', {
              empty: {
                value: problemExample(422, 'Unprocessable Content', 'One or more fields are invalid.', [
                  { field: 'messages', detail: `must be a list of 1 to ${MAX_BATCH_MESSAGES} messages` },
                ]),
              },
            }),
            '429': COMMON.tooManyFailures,
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/messages/{messageId}': {
        get: {
          operationId: 'getMessage',
          tags: ['Messages'],
          summary: 'Read the status and history of a message',
          description: 'Only the API key that sent it can read it; others get the same 404 as an unknown id.',
          security: BEARER,
          parameters: [
            messageIdParameter({
              scheduled: SAMPLE_MESSAGE_ID,
              unknown: '00000000-0000-4000-8000-000000000000',
            }),
          ],
          responses: {
            '200': {
              description: 'The message.',
              content: json(message, {
                scheduled: {
                  value: {
                    id: SAMPLE_MESSAGE_ID,
                    status: 'scheduled',
                    scheduledAt: SAMPLE_SCHEDULED_AT,
                    history: [
                      { status: 'scheduled', at: '2029-12-31T10:00:00.000Z', detail: SAMPLE_SCHEDULED_AT },
                    ],
                  },
                },
              }),
            },
            '401': COMMON.unauthorized,
            '403': COMMON.forbiddenSend,
            '404': problemResponse('No message with this id for this API key.', {
              unknown: {
                value: problemExample(404, 'Not Found', 'There is no message with this id for this API key.'),
              },
            }),
            '429': COMMON.tooManyFailures,
            '503': COMMON.unavailable,
          },
        },
        patch: {
          operationId: 'rescheduleMessage',
          tags: ['Messages'],
          summary: 'Move a scheduled message to another time',
          security: BEARER,
          parameters: [messageIdParameter({ move: SAMPLE_MESSAGE_ID }), idempotencyParameter()],
          requestBody: {
            required: true,
            content: json(rescheduleRequest, { move: { value: { scheduledAt: SAMPLE_SCHEDULED_AT } } }),
          },
          responses: {
            '200': {
              description: 'Moved.',
              content: json(rescheduled, {
                move: {
                  value: { id: SAMPLE_MESSAGE_ID, status: 'scheduled', scheduledAt: SAMPLE_SCHEDULED_AT },
                },
              }),
            },
            '400': problemResponse('The body is not JSON, or the Idempotency-Key is malformed.', {
              badJson: { value: COMMON.badJson },
            }),
            '401': COMMON.unauthorized,
            '403': COMMON.forbiddenSend,
            '404': problemResponse('No message with this id for this API key.', {
              unknown: {
                value: problemExample(404, 'Not Found', 'There is no message with this id for this API key.'),
              },
            }),
            '409': problemResponse(
              'The message is no longer scheduled (its status is in `messageStatus`), or a request with this Idempotency-Key is in flight.',
              {
                sent: {
                  value: {
                    type: 'about:blank',
                    title: 'Conflict',
                    status: 409,
                    detail: 'The message is sent, no longer scheduled.',
                    id: SAMPLE_MESSAGE_ID,
                    messageStatus: 'sent',
                  },
                },
              },
              headerRefs('Retry-After'),
              z.union([notScheduledProblem, problem]),
            ),
            '413': COMMON.tooLarge,
            '415': COMMON.unsupported,
            '422': problemResponse(
              '`scheduledAt` is invalid, or the Idempotency-Key was used for another move.',
              {
                past: {
                  value: problemExample(422, 'Unprocessable Content', 'One or more fields are invalid.', [
                    { field: 'scheduledAt', detail: 'must be in the future' },
                  ]),
                },
              },
            ),
            '429': COMMON.tooManyFailures,
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/messages/{messageId}/cancel': {
        post: {
          operationId: 'cancelMessage',
          tags: ['Messages'],
          summary: 'Cancel a scheduled message',
          description: 'A 200 means the message is never sent.',
          security: BEARER,
          parameters: [messageIdParameter({ cancel: SAMPLE_MESSAGE_ID }), idempotencyParameter()],
          responses: {
            '200': {
              description: 'Canceled.',
              content: json(canceled, { cancel: { value: { id: SAMPLE_MESSAGE_ID, status: 'canceled' } } }),
            },
            '400': problemResponse('The Idempotency-Key is malformed.', {
              badIdempotencyKey: { value: IDEMPOTENCY_BAD },
            }),
            '401': COMMON.unauthorized,
            '403': COMMON.forbiddenSend,
            '404': problemResponse('No message with this id for this API key.', {
              unknown: {
                value: problemExample(404, 'Not Found', 'There is no message with this id for this API key.'),
              },
            }),
            '409': problemResponse(
              'The message is no longer scheduled, or a request with this Idempotency-Key is in flight.',
              {
                sent: {
                  value: {
                    type: 'about:blank',
                    title: 'Conflict',
                    status: 409,
                    detail: 'The message is sent, no longer scheduled.',
                    id: SAMPLE_MESSAGE_ID,
                    messageStatus: 'sent',
                  },
                },
              },
              headerRefs('Retry-After'),
              z.union([notScheduledProblem, problem]),
            ),
            '422': problemResponse('The Idempotency-Key was used for another operation.', {
              idempotencyKeyReused: { value: IDEMPOTENCY_REUSED },
            }),
            '429': COMMON.tooManyFailures,
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/templates/{templateId}/render': {
        post: {
          operationId: 'renderTemplate',
          tags: ['Templates'],
          summary: 'Render a template without sending',
          description: 'The same checks and the same 422 as a send with this template.',
          security: BEARER,
          parameters: [
            {
              name: 'templateId',
              in: 'path',
              required: true,
              schema: { type: 'string' },
              examples: { welcome: { value: 'welcome' }, unknown: { value: 'no-such-template' } },
            },
          ],
          requestBody: {
            content: json(renderRequest, {
              welcome: { value: { variables: { name: 'Ada', actionUrl: 'https://example.com/start' } } },
              unknown: { value: { variables: {} } },
            }),
          },
          responses: {
            '200': {
              description: 'What the template renders to, and its version.',
              content: json(rendered, {
                welcome: {
                  value: {
                    subject: 'Welcome, Ada',
                    html: '<p>Hello Ada</p>',
                    text: 'Hello Ada',
                    version: '1',
                  },
                },
              }),
            },
            '400': problemResponse('The body is not JSON.', { badJson: { value: COMMON.badJson } }),
            '401': COMMON.unauthorized,
            '403': COMMON.forbiddenSend,
            '404': problemResponse('No template with this id.', {
              unknown: { value: problemExample(404, 'Not Found', 'There is no template with this id.') },
            }),
            '413': COMMON.tooLarge,
            '415': COMMON.unsupported,
            '422': problemResponse('The variables do not fit the template.', {
              missing: {
                value: problemExample(422, 'Unprocessable Content', 'One or more fields are invalid.', [
                  { field: 'template.variables.name', detail: 'is required' },
                ]),
              },
            }),
            '429': COMMON.tooManyFailures,
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/forms/{formId}': {
        options: {
          operationId: 'preflightForm',
          tags: ['Forms'],
          summary: "CORS preflight for a page on one of the form's allowedOrigins",
          security: [],
          parameters: [{ name: 'formId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '204': {
              description:
                'Allowed: `Access-Control-Allow-Origin` (the origin), `-Methods` (POST, OPTIONS), `-Headers` ' +
                '(content-type, accept), `-Max-Age` (600). Without an `Origin` header, `Allow: POST, OPTIONS`.',
            },
            '403': problemResponse("The origin is not one of the form's allowedOrigins.", {
              origin: {
                value: problemExample(
                  403,
                  'Forbidden',
                  'This form does not accept submissions from this origin.',
                ),
              },
            }),
            '404': problemResponse('No form with this id.', {
              unknownForm: { value: problemExample(404, 'Not Found', 'There is no form "no-such-form".') },
            }),
          },
        },
        post: {
          operationId: 'submitForm',
          tags: ['Forms'],
          summary: 'Submit a contact form',
          description:
            'Public: no API key. JSON, urlencoded or multipart (files where the form accepts them). A JSON ' +
            'request (or `Accept: application/json`) is answered 202 `{id}`; a browser post is redirected (303) ' +
            "to the form's thank-you page, or shown one (200), and errors come as an HTML page when it asks for " +
            'HTML. Every answer after the rate limits were counted carries RateLimit-Policy and RateLimit.',
          security: [],
          parameters: [
            {
              name: 'formId',
              in: 'path',
              required: true,
              schema: { type: 'string' },
              examples: { contact: { value: 'contact' }, unknownForm: { value: 'no-such-form' } },
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: formFields,
                examples: {
                  contact: {
                    value: { email: 'vera@example.org', name: 'Vera', message: 'Hello, a quote please.' },
                  },
                  invalid: { value: { email: 'vera', message: 'Hello' } },
                  unknownForm: { value: { email: 'vera@example.org', message: 'Hello' } },
                },
              },
              'application/x-www-form-urlencoded': { schema: formFields },
              'multipart/form-data': { schema: formFields },
            },
          },
          responses: {
            '200': {
              description: 'A thank-you page, for a browser post to a form without a redirect.',
              headers: headerRefs('RateLimit-Policy', 'RateLimit'),
              content: { 'text/html': { schema: { type: 'string' } } },
            },
            '202': {
              description: 'Accepted (JSON).',
              headers: headerRefs('RateLimit-Policy', 'RateLimit'),
              content: json(formAccepted, { contact: { value: { id: SAMPLE_MESSAGE_ID } } }),
            },
            '303': {
              description: "Accepted: to the form's thank-you page.",
              headers: { ...headerRefs('Location', 'RateLimit-Policy', 'RateLimit') },
            },
            '403': problemResponse('The origin is not allowed, or the captcha failed.', {
              origin: {
                value: problemExample(
                  403,
                  'Forbidden',
                  'This form does not accept submissions from this origin.',
                ),
              },
            }),
            '404': problemResponse('No form with this id.', {
              unknownForm: { value: problemExample(404, 'Not Found', 'There is no form "no-such-form".') },
            }),
            '413': problemResponse('The body is larger than api.maxBodyBytes.', {
              tooLarge: {
                value: problemExample(
                  413,
                  'Content Too Large',
                  'The request body is larger than 1048576 bytes.',
                ),
              },
            }),
            '415': problemResponse('Not JSON, urlencoded or multipart.', {
              unsupported: {
                value: problemExample(
                  415,
                  'Unsupported Media Type',
                  'Send application/json, application/x-www-form-urlencoded or multipart/form-data.',
                ),
              },
            }),
            '422': problemResponse(
              'A field is invalid.',
              {
                invalid: {
                  value: problemExample(422, 'Unprocessable Content', 'One or more fields are invalid.', [
                    { field: 'email', detail: 'must be an email address (name@domain)' },
                  ]),
                },
              },
              headerRefs('RateLimit-Policy', 'RateLimit'),
            ),
            '429': problemResponse(
              'Over a rate limit of the form.',
              {
                tooMany: {
                  value: problemExample(429, 'Too Many Requests', 'Too many submissions; try again later.'),
                },
              },
              headerRefs('Retry-After', 'RateLimit-Policy', 'RateLimit'),
            ),
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/forms/{formId}/submissions': {
        get: {
          operationId: 'listSubmissions',
          tags: ['Submissions'],
          summary: "List a form's archived submissions",
          description:
            'For forms with `archive` (docs/privacy.md). Newest first; files are listed by name, type and ' +
            'size, never served here. The API key needs the `submissions:read` scope (every form) or ' +
            '`submissions:read:<formId>`; the scope is checked before the form, so a key without it gets 403 ' +
            'for any form id. With the scope, a form that does not exist and one without `archive` are the ' +
            'same 404. The answer is `Cache-Control: no-store`.',
          security: SUBMISSIONS_READER,
          parameters: [
            {
              name: 'formId',
              in: 'path',
              required: true,
              schema: { type: 'string' },
              examples: {
                inbox: { value: 'contact' },
                spam: { value: 'contact' },
                badCursor: { value: 'contact' },
                withoutScope: { value: 'contact' },
                unknownForm: { value: 'no-such-form' },
              },
            },
            {
              name: 'status',
              in: 'query',
              description: 'The folder: `inbox` (accepted) or `spam` (caught by a spam guard or Akismet).',
              schema: { type: 'string', enum: [...FOLDERS], default: 'inbox' },
              examples: { inbox: { value: 'inbox' }, spam: { value: 'spam' } },
            },
            {
              name: 'since',
              in: 'query',
              description:
                'Only submissions received at or after this time: RFC 3339 (`2026-01-31T00:00:00Z`); ' +
                'JavaScript `Date.parse` reads it, so a date alone (`2026-01-31`) is midnight UTC.',
              schema: { type: 'string', format: 'date-time' },
              examples: { inbox: { value: '2026-01-01T00:00:00Z' } },
            },
            {
              name: 'until',
              in: 'query',
              description: 'Only submissions received at or before this time, read as `since` is.',
              schema: { type: 'string', format: 'date-time' },
            },
            {
              name: 'limit',
              in: 'query',
              description: `At most this many submissions in the page: 1 to ${MAX_PAGE_SIZE}, digits only.`,
              schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 },
              examples: { inbox: { value: 20 } },
            },
            {
              name: 'cursor',
              in: 'query',
              description:
                'Opaque: the `cursor` of the previous page, with the same form and status. Another value is 422.',
              schema: { type: 'string' },
              examples: { badCursor: { value: 'bm90LWEtY3Vyc29y' } },
            },
          ],
          responses: {
            '200': {
              description: 'A page of submissions; `cursor` when there may be more.',
              content: json(submissionsPage, {
                inbox: {
                  value: {
                    submissions: [
                      {
                        id: SAMPLE_MESSAGE_ID,
                        status: 'inbox',
                        receivedAt: '2026-02-03T10:15:00.000Z',
                        fields: {
                          email: 'vera@example.org',
                          name: 'Vera',
                          message: 'Hello, a quote please.',
                        },
                        files: [{ name: 'brief.pdf', contentType: 'application/pdf', size: 48213 }],
                      },
                    ],
                    cursor: 'eyJzayI6IjIwMjYtMDItMDNUMTA6MTU6MDAuMDAwWiMwYjdjIn0',
                  },
                },
                spam: {
                  value: {
                    submissions: [
                      {
                        id: SAMPLE_MESSAGE_ID,
                        status: 'spam',
                        receivedAt: '2026-02-03T10:16:00.000Z',
                        spamReason: 'blocked-word',
                        fields: { email: 'bot@example.net', message: 'Cheap casino bonus' },
                        files: [],
                      },
                    ],
                  },
                },
              }),
            },
            '401': COMMON.unauthorized,
            '403': problemResponse(
              'The API key has neither `submissions:read` nor `submissions:read:<formId>`.',
              {
                withoutScope: {
                  value: problemExample(
                    403,
                    'Forbidden',
                    'This API key does not have the submissions:read:contact scope.',
                  ),
                },
              },
            ),
            '404': problemResponse('No form with this id, or the form has no `archive`.', {
              unknownForm: {
                value: problemExample(404, 'Not Found', 'There is no archive for form "no-such-form".'),
              },
            }),
            '422': problemResponse(
              'A query parameter is invalid, each named in `errors`: `status`, `limit`, `since`, `until`, `cursor`.',
              {
                badCursor: {
                  value: problemExample(422, 'Unprocessable Content', 'One or more fields are invalid.', [
                    { field: 'cursor', detail: 'The cursor is not one this API gave.' },
                  ]),
                },
              },
            ),
            '429': COMMON.tooManyFailures,
            '503': problemResponse(
              'The archive or the API keys cannot be read right now (the latter says "Mail cannot be accepted right now; try again shortly."): send again after Retry-After.',
              {
                unavailable: {
                  value: problemExample(
                    503,
                    'Service Unavailable',
                    'Submissions cannot be read right now; try again shortly.',
                  ),
                },
              },
              headerRefs('Retry-After'),
            ),
          },
        },
      },
      '/health': {
        get: {
          operationId: 'health',
          tags: ['Service'],
          summary: 'Whether the mail queue can be reached',
          security: [],
          responses: {
            '200': {
              description: 'Healthy.',
              content: json(health, { default: { value: { status: 'ok' } } }),
            },
            '503': COMMON.unavailable,
          },
        },
      },
      '/v1/openapi.json': {
        get: {
          operationId: 'openApiDocument',
          tags: ['Service'],
          summary: 'This document',
          security: [],
          responses: {
            '200': {
              description: 'The OpenAPI 3.1 document.',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
    },
    webhooks: {
      event: {
        post: {
          operationId: 'receiveWebhook',
          summary: 'An event Postroom sends to your endpoint',
          // No HTTP authentication: the receiver checks the signature headers (HMAC, not an OpenAPI scheme).
          security: [],
          description:
            'Signed per Standard Webhooks: verify `webhook-signature` over the raw body before parsing it ' +
            '(docs/webhooks.md). Answer 2xx within 15 s; other answers are retried with backoff, 410 disables ' +
            'the endpoint.',
          parameters: [
            { $ref: '#/components/parameters/WebhookId' },
            { $ref: '#/components/parameters/WebhookTimestamp' },
            { $ref: '#/components/parameters/WebhookSignature' },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: z.object({
                  type: z.enum([...WEBHOOK_EVENT_TYPES, 'webhook.test']),
                  timestamp: z.string(),
                  data: z.record(z.string(), z.unknown()),
                }),
                examples: {
                  delivered: {
                    value: {
                      type: 'email.delivered',
                      timestamp: '2026-01-01T00:00:00.000Z',
                      data: {
                        messageId: SAMPLE_MESSAGE_ID,
                        status: 'delivered',
                        recipients: ['ada@example.org'],
                        providerMessageId: '0102019a-example',
                      },
                    },
                  },
                  submission: {
                    value: {
                      type: 'submission.received',
                      timestamp: '2026-01-01T00:00:00.000Z',
                      data: {
                        formId: 'contact',
                        submissionId: SAMPLE_MESSAGE_ID,
                        spam: false,
                        fields: { email: 'vera@example.org', name: 'Vera', message: 'Hello' },
                        files: [],
                      },
                    },
                  },
                },
              },
            },
          },
          responses: {
            '200': { description: 'Received: any 2xx.' },
            '410': { description: 'Gone: Postroom disables the endpoint.' },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: `An API key (\`pr_...\`) made by \`postroom keys create\`, as \`Authorization: Bearer <key>\`. A key carries scopes (\`--scope\`, repeatable), listed in each operation's security requirement: \`${KEY_SCOPES[0]}\` for the send, message and template routes (a key's default, and what keys made before scopes have); \`${KEY_SCOPES[1]}\` to read every form's archived submissions, or \`${KEY_SCOPES[1]}:<formId>\` for one form's. A key without the scope a route needs is answered 403; a missing, unknown or revoked key, 401.`,
        },
      },
    },
  }) as unknown as Record<string, unknown> & { components: Record<string, Record<string, unknown>> };

  describeSendRequest(document);
  // Response headers; the webhook ones are request parameters of the `webhooks` section.
  document.components.headers = Object.fromEntries(
    Object.entries(HEADERS).filter(([name]) => !name.startsWith('Webhook')),
  );
  document.components.parameters = {
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: `Makes the request safe to retry (${IDEMPOTENCY_DRAFT}): 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters (a quoted sf-string is read for its content), remembered ${IDEMPOTENCY_WINDOW_SECONDS / 3600} hours per API key. The same key and payload answers what the first request did; another payload is 422; while the first is in flight, 409; a malformed key, 400.`,
      schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
      example: 'order-1042-receipt',
    },
    WebhookId: { name: 'webhook-id', in: 'header', required: true, ...pick(HEADERS.WebhookId) },
    WebhookTimestamp: {
      name: 'webhook-timestamp',
      in: 'header',
      required: true,
      ...pick(HEADERS.WebhookTimestamp),
    },
    WebhookSignature: {
      name: 'webhook-signature',
      in: 'header',
      required: true,
      ...pick(HEADERS.WebhookSignature),
    },
  };
  return document;
}

function pick(header: { description: string; schema: unknown; example?: unknown }) {
  return { description: header.description, schema: header.schema, example: header.example };
}

/** Field descriptions of the send request, where the rules live in transforms a JSON Schema cannot say. */
const SEND_FIELDS: Record<string, string> = {
  from: "The sender, `name@domain` or `Name <name@domain>`, at the sending domain (the configured sender's).",
  to: `One address or a list; to, cc and bcc together at most ${MAX_RECIPIENTS}.`,
  cc: 'One address or a list.',
  bcc: 'One address or a list: in the envelope only, never in the headers.',
  replyTo: 'One address.',
  subject: "One line; required without a template, overrides the template's.",
  text: 'The plain-text part. text or html is required without a template.',
  html: 'The HTML part.',
  headers: 'Extra headers, from an allow-list (List-Unsubscribe, ...); one line each.',
  tags: 'Message tags (SES EmailTags), in events and webhooks.',
  attachments: 'Files, content in base64; the bytes must be a file of the declared type.',
  template: 'A template compiled at synth and its variables, instead of subject/text/html.',
  scheduledAt: 'Send later: ISO 8601 with an offset, in the future, within schedule.maxDays.',
};

function describeSendRequest(document: Record<string, unknown>): void {
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    const schema = node as { properties?: Record<string, Record<string, unknown>> };
    if (schema.properties?.from && schema.properties.to && schema.properties.scheduledAt) {
      for (const [name, description] of Object.entries(SEND_FIELDS)) {
        const property = schema.properties[name];
        if (property === undefined) continue;
        // One address or a list: the schema takes a string and makes it a list before checking it.
        if (name === 'to' || name === 'cc' || name === 'bcc') {
          schema.properties[name] = { description, oneOf: [{ type: 'string' }, { ...property }] };
        } else {
          property.description = description;
        }
      }
    }
    for (const value of Object.values(node)) visit(value);
  };
  visit(document);
}

/** The file's text: what `npm run openapi` writes and the drift test compares. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
