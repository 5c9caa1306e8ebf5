import { RecipientsRefusedError } from '../errors';
import { maskedReason } from '../relay/send-errors';

/**
 * What one attempt on one provider tells the relay about the next provider (docs/failover.md, the rules table):
 * - `not-accepted`: the provider certainly did not take the mail (refused before the body, throttled, down).
 *   The next provider is tried now, in the same job: no copy can exist.
 * - `provider-config`: as `not-accepted`, but the cause is the account or the configuration (paused,
 *   suspended, AUTH refused, identity not verified): it will not pass by itself, so an alarm says so.
 * - `message-permanent`: the provider refused this message (a recipient, its content): another provider
 *   would refuse it too. No failover; the message fails with the reason.
 * - `ambiguous`: the provider may have taken it (a timeout or a dropped connection after the body was sent,
 *   or an error this table does not know). No failover, which could send a second copy: the job is retried
 *   later on the same provider, under its claim, and counted as uncertain.
 */
export type AttemptVerdict = 'not-accepted' | 'provider-config' | 'message-permanent' | 'ambiguous';

export type ProviderKind = 'ses' | 'smtp';

/**
 * Where an SMTP session was when it failed. The SMTP transport adapter names it on the error it throws
 * (`smtpPhase`); `unknown` when the client cannot tell whether the body had been sent.
 */
export const SMTP_PHASES = [
  'connect',
  'ehlo',
  'starttls',
  'auth',
  'mail',
  'rcpt',
  'data',
  'after-body',
  'unknown',
] as const;
export type SmtpPhase = (typeof SMTP_PHASES)[number];

export interface AttemptOutcome {
  readonly verdict: AttemptVerdict;
  /** Short, addresses masked: what the history and the log say about the attempt. */
  readonly reason: string;
}

// SES v2 SendEmail errors: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors
// and the common errors every AWS API returns: https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html
/** The account or the stack's setup: another provider can send; this one will not until someone acts. */
const SES_ACCOUNT = new Set([
  'AccountSuspendedException',
  'SendingPausedException',
  'MailFromDomainNotVerifiedException',
  'NotFoundException',
  'AccessDeniedException',
  'AccessDeniedFault',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'ExpiredTokenException',
  'MissingAuthenticationToken',
  'NotAuthorized',
]);
/** Throttling and service faults: SES answered, and did not take the mail. */
const SES_NOT_ACCEPTED = new Set([
  'TooManyRequestsException',
  'LimitExceededException',
  'ThrottlingException',
  'Throttling',
  'InternalFailure',
  'ServiceUnavailable',
]);
/** SES refused this message: its content, its headers or its recipients. */
const SES_MESSAGE = new Set(['MessageRejected', 'BadRequestException', 'InvalidParameterValue']);

/**
 * Connection errors that happen before a request leaves the machine (no socket, no name, no TLS):
 * https://nodejs.org/api/errors.html#common-system-errors
 */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EDNS',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly originalCode?: unknown;
  readonly message?: unknown;
  readonly responseCode?: unknown;
  readonly response?: unknown;
  readonly smtpPhase?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** The rules table, for one error thrown by one provider's transport. Pure: reads only the error's shape. */
export function classifyAttempt(error: unknown, kind: ProviderKind): AttemptOutcome {
  if (error instanceof RecipientsRefusedError && error.senderRefused) {
    return {
      verdict: 'provider-config',
      reason: maskedReason(`the relay refused the sender at RCPT TO: ${error.refused[0]?.reply ?? ''}`),
    };
  }
  if (error instanceof RecipientsRefusedError) {
    // Every recipient refused at RCPT TO: the relay settles each refusal itself; another provider would
    // refuse the same addresses.
    return {
      verdict: 'message-permanent',
      reason: maskedReason(`every recipient was refused: ${error.refused[0]?.reply ?? ''}`),
    };
  }
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  return kind === 'ses' ? classifySes(shape) : classifySmtp(shape);
}

function classifySes(shape: ErrorShape): AttemptOutcome {
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const message = typeof shape.message === 'string' ? shape.message : '';
  const reason = (text: string) => maskedReason(`ses ${text}`);
  const status = shape.$metadata?.httpStatusCode;
  if (SES_ACCOUNT.has(name)) return { verdict: 'provider-config', reason: reason(`${name}: ${message}`) };
  // SES answers MessageRejected for an unverified From identity (or, in the sandbox, recipient): that is
  // the account's setup, not this message.
  if (name === 'MessageRejected' && /not verified/i.test(message))
    return { verdict: 'provider-config', reason: reason(`${name}: ${message}`) };
  if (SES_MESSAGE.has(name)) return { verdict: 'message-permanent', reason: reason(`${name}: ${message}`) };
  if (SES_NOT_ACCEPTED.has(name)) return { verdict: 'not-accepted', reason: reason(`${name}: ${message}`) };
  if (typeof status === 'number') {
    // An answer from SES: 5xx and 429 are its side, other 4xx name something about the request or account.
    if (status >= 500 || status === 429)
      return { verdict: 'not-accepted', reason: reason(`${name} (${status}): ${message}`) };
    if (status === 401 || status === 403)
      return { verdict: 'provider-config', reason: reason(`${name} (${status}): ${message}`) };
    return { verdict: 'message-permanent', reason: reason(`${name} (${status}): ${message}`) };
  }
  const code = networkCode(shape);
  if (code !== undefined && NOT_CONNECTED.has(code))
    return { verdict: 'not-accepted', reason: reason(`network ${code}: ${message}`) };
  // No answer (a timeout, a reset) after the request was written: SES may have taken the mail.
  return { verdict: 'ambiguous', reason: reason(`no answer: ${code ?? name}: ${message}`) };
}

function classifySmtp(shape: ErrorShape): AttemptOutcome {
  const phase: SmtpPhase = SMTP_PHASES.find((p) => p === shape.smtpPhase) ?? 'unknown';
  const message = typeof shape.message === 'string' ? shape.message : '';
  const reply = typeof shape.response === 'string' && shape.response !== '' ? shape.response : message;
  const code = typeof shape.responseCode === 'number' ? shape.responseCode : undefined;
  const reason = (text: string) => maskedReason(`smtp ${phase}: ${text}`);
  switch (phase) {
    case 'connect':
    case 'ehlo':
    case 'mail':
    case 'data':
      // Refused, or cut, before the body: RFC 5321 3.3 — a mail exists only after the final reply to DATA.
      return { verdict: 'not-accepted', reason: reason(code === undefined ? message : `${code} ${reply}`) };
    case 'starttls':
    case 'auth':
      // The relay's certificate, its TLS or our credentials: not this message, and not passing by itself.
      return {
        verdict: 'provider-config',
        reason: reason(code === undefined ? message : `${code} ${reply}`),
      };
    case 'rcpt':
      // Refused recipients the relay settles one by one; a code-less RCPT failure is the session's.
      return code !== undefined && code >= 500
        ? { verdict: 'message-permanent', reason: reason(`${code} ${reply}`) }
        : { verdict: 'not-accepted', reason: reason(code === undefined ? message : `${code} ${reply}`) };
    case 'after-body':
      // The relay's final reply to the body: 4xx says it did not take it (RFC 5321 4.2.1), 5xx refuses the
      // message for good. Without a reply, it may have.
      if (code !== undefined && code >= 500)
        return { verdict: 'message-permanent', reason: reason(`${code} ${reply}`) };
      if (code !== undefined && code >= 400)
        return { verdict: 'not-accepted', reason: reason(`${code} ${reply}`) };
      return { verdict: 'ambiguous', reason: reason(`no final reply: ${message}`) };
    case 'unknown':
      return { verdict: 'ambiguous', reason: reason(`no final reply: ${message}`) };
  }
}

/** Node's system error code, directly or as nodemailer keeps it (`errno`, `originalCode`). */
function networkCode(shape: ErrorShape): string | undefined {
  for (const value of [shape.code, shape.errno, shape.originalCode])
    if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
