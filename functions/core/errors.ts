import type { RefusedRecipient } from './ports';

/** A configuration that cannot be used. The message names each bad field. */
export class ConfigError extends Error {
  readonly problems: ReadonlyArray<{ field: string; message: string }>;

  constructor(problems: ReadonlyArray<{ field: string; message: string }>) {
    super(
      `Invalid Postroom configuration:\n${problems.map((p) => `  - ${p.field}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface FieldError {
  /** The request field at fault, as the client named it (`email`, `message`, `company`). */
  field: string;
  detail: string;
}

/**
 * An error answered to an HTTP client as application/problem+json (RFC 9457).
 * `detail` is written for the client: it never carries internals.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly title: string;
  readonly errors: ReadonlyArray<FieldError> | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    title: string,
    detail: string,
    options: { errors?: ReadonlyArray<FieldError>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpError';
    this.status = status;
    this.title = title;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export class BadRequestError extends HttpError {
  constructor(detail: string) {
    super(400, 'Bad Request', detail);
    this.name = 'BadRequestError';
  }
}

export class ForbiddenOriginError extends HttpError {
  /** The refused Origin header, cut to a bounded length: for the log (an origin is not personal data). */
  readonly origin: string;

  constructor(origin = '') {
    super(403, 'Forbidden', 'This form does not accept submissions from this origin.');
    this.name = 'ForbiddenOriginError';
    this.origin = origin.slice(0, 200);
  }
}

export class NotFoundError extends HttpError {
  constructor(detail: string) {
    super(404, 'Not Found', detail);
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends HttpError {
  constructor(allow: string) {
    super(405, 'Method Not Allowed', `Use ${allow}.`, { headers: { allow } });
    this.name = 'MethodNotAllowedError';
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(detail: string) {
    super(413, 'Content Too Large', detail);
    this.name = 'PayloadTooLargeError';
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor() {
    super(
      415,
      'Unsupported Media Type',
      'Send application/json, application/x-www-form-urlencoded or multipart/form-data.',
    );
    this.name = 'UnsupportedMediaTypeError';
  }
}

export class ValidationError extends HttpError {
  constructor(errors: ReadonlyArray<FieldError>) {
    super(422, 'Unprocessable Content', 'One or more fields are invalid.', { errors });
    this.name = 'ValidationError';
  }
}

export class ServiceUnavailableError extends HttpError {
  constructor(detail: string, retryAfterSeconds: number) {
    super(503, 'Service Unavailable', detail, { headers: { 'retry-after': String(retryAfterSeconds) } });
    this.name = 'ServiceUnavailableError';
  }
}

/** A MailJob that cannot be sent: retrying will not help. */
export class PermanentSendError extends Error {
  readonly retryable = false;
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'PermanentSendError';
    this.reason = reason;
  }
}

/** A send that failed for now (throttling, 5xx, timeout, SMTP 4xx): retry later. */
export class TransientSendError extends Error {
  readonly retryable = true;
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'TransientSendError';
    this.reason = reason;
  }
}

export type SendError = PermanentSendError | TransientSendError;

/**
 * The provider refused every recipient it was given (SMTP: each RCPT TO answered 4xx or 5xx), so it took
 * the mail for nobody. Each refusal keeps its own reply: the relay retries those refused for now and
 * records those refused for good. https://www.rfc-editor.org/rfc/rfc5321#section-3.3
 */
export class RecipientsRefusedError extends Error {
  readonly refused: ReadonlyArray<RefusedRecipient>;
  /** The envelope sender of the refused mail: a refusal that names it is about the sender, not the recipients. */
  readonly sender: string | undefined;

  constructor(
    refused: ReadonlyArray<RefusedRecipient>,
    options?: { cause?: unknown; sender?: string | undefined },
  ) {
    super(`the provider refused all ${refused.length} recipients`, options);
    this.name = 'RecipientsRefusedError';
    this.refused = refused;
    this.sender = options?.sender;
  }

  /**
   * Every recipient was refused for good with a reply that names the envelope sender and not the recipient:
   * the relay refuses the sender, and said so at RCPT TO (RFC 5321 allows a server to wait until then;
   * Postfix does by default, smtpd_delay_reject): `553 5.7.1 <no-reply@example.com>: Sender address rejected:
   * not owned by user ...`. Another provider may take the mail; this one takes none from this sender.
   */
  get senderRefused(): boolean {
    const sender = this.sender?.toLowerCase();
    if (sender === undefined || sender === '') return false;
    return this.refused.every((r) => {
      const reply = r.reply.toLowerCase();
      return r.code >= 500 && reply.includes(`<${sender}>`) && !reply.includes(r.recipient.toLowerCase());
    });
  }
}

/** A BlobStore has no object under the key: it expired, or was never written. */
export class BlobNotFoundError extends Error {
  constructor(key: string, options?: { cause?: unknown }) {
    super(`no attachment object under ${key}`, options);
    this.name = 'BlobNotFoundError';
  }
}

/** The class name of a thrown value: safe to log, unlike its message, which may quote an address. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

export class ConflictError extends HttpError {
  constructor(detail: string) {
    super(409, 'Conflict', detail);
    this.name = 'ConflictError';
  }
}
