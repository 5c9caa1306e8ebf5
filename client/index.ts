import { createHmac, timingSafeEqual } from 'node:crypto';
import type * as z from 'zod/mini';
import type { sendRequestSchema } from '../functions/core/api/send-request';
import type { FieldError } from '../functions/core/errors';
import type { MessageStatus, StatusChange } from '../functions/core/messages';
import type { WebhookEventType } from '../functions/core/webhooks/event-types';
import type { WebhookEventData } from '../functions/core/webhooks/webhook-event';

/**
 * The typed client for Postroom's HTTP API: `import { Postroom } from 'postroom/client'`. Request types are the
 * input types of the schemas the send function validates with; every call resolves to `{data, error, headers}`
 * and never throws for an HTTP error or a network failure. No dependency: `fetch` and `node:crypto`.
 *
 * This file is the source; `client/index.mjs` is built from it (`npm run build:client`, esbuild stripping the
 * types) and committed, so a plain `node` script imports the client without a build step or a TypeScript
 * loader. test/unit/client-build.test.ts fails when the two differ. docs/client.md.
 */

type SendRequestSchema = ReturnType<typeof sendRequestSchema>;
type SendRequestInput = z.input<SendRequestSchema>;
/**
 * The schema reads an address list through a transform that takes any value (one address or a list), whose
 * input type is therefore `unknown`: what it accepts is one address or a list of them.
 */
type Addresses<T> = unknown extends T ? string | string[] : T;

/** The body of `POST /v1/send` and of each message of a batch. */
export type SendEmailInput = Omit<SendRequestInput, 'to' | 'cc' | 'bcc'> & {
  to: Addresses<SendRequestInput['to']>;
  cc?: Addresses<SendRequestInput['cc']>;
  bcc?: Addresses<SendRequestInput['bcc']>;
};

export interface SentEmail {
  readonly id: string;
  /** Present when the email was scheduled. */
  readonly status?: 'scheduled';
  readonly scheduledAt?: string;
}

export interface BatchResult {
  /** One result per message, in order: its id, or why it was refused. */
  readonly results: ReadonlyArray<
    | (SentEmail & { readonly index: number })
    | { readonly index: number; readonly errors: ReadonlyArray<FieldError> }
  >;
}

export interface EmailStatus {
  readonly id: string;
  readonly status: MessageStatus;
  readonly scheduledAt?: string;
  readonly history: ReadonlyArray<StatusChange>;
}

export interface CanceledEmail {
  readonly id: string;
  readonly status: 'canceled';
}

export interface RescheduledEmail {
  readonly id: string;
  readonly status: 'scheduled';
  readonly scheduledAt: string;
}

export interface RenderedTemplate {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  readonly version: string;
}

/** What a Postroom webhook's body holds, once verified. docs/webhooks.md. */
export interface WebhookPayload {
  readonly type: WebhookEventType;
  readonly timestamp: string;
  readonly data: WebhookEventData;
}

/**
 * An RFC 9457 problem as the API answered it (`status`, `title`, `detail`, per-field `errors`, and any extension
 * member such as `messageStatus`), or, with `status: null`, a request that got no HTTP answer.
 */
export interface PostroomError {
  /** The HTTP status; null when there was no answer (network failure, timeout) or nothing was sent. */
  readonly status: number | null;
  readonly title: string;
  readonly detail: string;
  readonly type?: string;
  readonly errors?: ReadonlyArray<FieldError>;
  readonly [member: string]: unknown;
}

export type PostroomResult<T> =
  | { readonly data: T; readonly error: null; readonly headers: Record<string, string> }
  | {
      readonly data: null;
      readonly error: PostroomError;
      /** The answer's headers (Retry-After...); null when there was no answer. */
      readonly headers: Record<string, string> | null;
    };

export interface PostroomOptions {
  /** @default process.env.POSTROOM_API_KEY */
  readonly apiKey?: string | undefined;
  /** The API's URL, without a trailing path. @default process.env.POSTROOM_BASE_URL, else the local stack's */
  readonly baseUrl?: string | undefined;
  /** How long a request may take before it is an error value. @default 30_000 */
  readonly timeoutMs?: number;
  /** Another fetch (a proxy agent, a test double). @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Sent as `Idempotency-Key`: a repeat within 24 hours answers what the first did. */
  readonly idempotencyKey?: string;
}

/** The local stack's API (`npm start`). */
export const LOCAL_BASE_URL = 'http://127.0.0.1:3000';

/** Standard Webhooks' default tolerance for a timestamp, either way. */
const WEBHOOK_TOLERANCE_SECONDS = 300;

export class Postroom {
  readonly baseUrl: string;
  readonly emails: Emails;
  readonly templates: Templates;
  readonly webhooks: Webhooks;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetcher: typeof fetch;

  constructor(options: PostroomOptions = {}) {
    this.apiKey = options.apiKey ?? process.env.POSTROOM_API_KEY;
    this.baseUrl = (options.baseUrl ?? process.env.POSTROOM_BASE_URL ?? LOCAL_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetcher = options.fetch ?? globalThis.fetch;
    this.emails = new Emails(this);
    this.templates = new Templates(this);
    this.webhooks = new Webhooks();
  }

  /** One API call; resolves to an error value for an HTTP error, a network failure or an unreadable answer. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<PostroomResult<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    // Without a key the request is still made: the API answers 401, which names what to send.
    if (this.apiKey !== undefined && this.apiKey !== '') headers.authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    let response: Response;
    let text: string;
    try {
      response = await this.fetcher(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      return { data: null, error: noAnswer(cause), headers: null };
    }
    const answerHeaders = Object.fromEntries(response.headers);
    const parsed = parseJson(text);
    if (response.ok && parsed !== undefined)
      return { data: parsed as T, error: null, headers: answerHeaders };
    const problem = isObject(parsed) ? parsed : {};
    const error: PostroomError = {
      ...problem,
      status: response.status,
      title: typeof problem.title === 'string' ? problem.title : response.statusText,
      detail: typeof problem.detail === 'string' ? problem.detail : unreadable(response.ok, text),
    };
    return { data: null, error, headers: answerHeaders };
  }
}

class Emails {
  constructor(private readonly client: Postroom) {}

  /** `POST /v1/send`: queues one email, or schedules it with `scheduledAt`. */
  send(email: SendEmailInput, options: RequestOptions = {}): Promise<PostroomResult<SentEmail>> {
    return this.client.request('POST', '/v1/send', email, options);
  }

  /** `POST /v1/send/batch`: up to 100 emails, each validated and queued on its own. */
  batch(emails: ReadonlyArray<SendEmailInput>): Promise<PostroomResult<BatchResult>> {
    return this.client.request('POST', '/v1/send/batch', { messages: emails });
  }

  /** `GET /v1/messages/{id}`: the status and history of an email this API key sent. */
  get(id: string): Promise<PostroomResult<EmailStatus>> {
    return this.client.request('GET', `/v1/messages/${encodeURIComponent(id)}`);
  }

  /** `POST /v1/messages/{id}/cancel`: a scheduled email is never sent (409 once it is no longer scheduled). */
  cancel(id: string, options: RequestOptions = {}): Promise<PostroomResult<CanceledEmail>> {
    return this.client.request('POST', `/v1/messages/${encodeURIComponent(id)}/cancel`, undefined, options);
  }

  /** `PATCH /v1/messages/{id}`: moves a scheduled email to `scheduledAt` (RFC 3339 with an offset). */
  reschedule(
    id: string,
    scheduledAt: string,
    options: RequestOptions = {},
  ): Promise<PostroomResult<RescheduledEmail>> {
    return this.client.request('PATCH', `/v1/messages/${encodeURIComponent(id)}`, { scheduledAt }, options);
  }
}

class Templates {
  constructor(private readonly client: Postroom) {}

  /** `POST /v1/templates/{id}/render`: what a send with this template and these variables would contain. */
  render(id: string, variables: Record<string, unknown> = {}): Promise<PostroomResult<RenderedTemplate>> {
    return this.client.request('POST', `/v1/templates/${encodeURIComponent(id)}/render`, { variables });
  }
}

type HeaderSource = Headers | Readonly<Record<string, string | ReadonlyArray<string> | undefined>>;

class Webhooks {
  /**
   * Checks a Postroom webhook as the Standard Webhooks specification says: an HMAC-SHA256 of
   * `webhook-id.webhook-timestamp.body` with the endpoint's `whsec_` secret, among the space-separated `v1,`
   * signatures, compared in constant time, with a timestamp within 5 minutes. Give the body exactly as
   * received (not parsed and serialized again). Resolves to the payload, or an error value; never throws.
   * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
   */
  verify(
    rawBody: string | Uint8Array,
    headers: HeaderSource,
    secret: string,
    options: { now?: Date; toleranceSeconds?: number } = {},
  ): PostroomResult<WebhookPayload> {
    const refused = (detail: string): PostroomResult<WebhookPayload> => ({
      data: null,
      error: { status: null, title: 'Webhook Verification Failed', detail },
      headers: null,
    });
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signatures = header(headers, 'webhook-signature');
    if (id === undefined || timestamp === undefined || signatures === undefined)
      return refused('webhook-id, webhook-timestamp and webhook-signature are required.');
    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
    if (!(Math.abs(now - seconds) <= (options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)))
      return refused('The webhook-timestamp is missing or too far from now.');
    const key = Buffer.from(secret.trim().replace(/^whsec_/, ''), 'base64');
    if (key.length === 0) return refused('The secret is not whsec_ and base64.');
    const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
    const matches = signatures.split(' ').some((signature) => {
      const [version, value] = signature.split(',', 2);
      if (version !== 'v1' || value === undefined) return false;
      const given = Buffer.from(value, 'base64');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!matches) return refused('No signature matches this body with this secret.');
    const payload = parseJson(body.toString('utf8'));
    if (!isObject(payload)) return refused('The body is not a JSON object.');
    return { data: payload as unknown as WebhookPayload, error: null, headers: {} };
  }
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | ReadonlyArray<string> | undefined>>;
  const found = Object.keys(record).find((key) => key.toLowerCase() === name);
  const value = found === undefined ? undefined : record[found];
  return typeof value === 'string' ? value : value?.[0];
}

function noAnswer(cause: unknown): PostroomError {
  const timedOut = cause instanceof Error && cause.name === 'TimeoutError';
  const reason =
    cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : '';
  return {
    status: null,
    title: timedOut ? 'Timeout' : 'Network Error',
    detail: timedOut ? 'The API did not answer in time.' : `The API could not be reached: ${reason}`.trim(),
  };
}

function unreadable(ok: boolean, text: string): string {
  return ok ? 'The answer was not JSON.' : text.slice(0, 200);
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
