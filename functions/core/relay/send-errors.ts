import { PermanentSendError, RecipientsRefusedError, type SendError, TransientSendError } from '../errors';
import type { SessionFailure } from '../metrics';

/**
 * Decides whether a provider error is worth retrying. Works on the shape of the error so that core
 * needs neither the AWS SDK nor nodemailer:
 * - SES v2 errors carry the exception `name` and `$metadata.httpStatusCode`
 *   (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors);
 * - nodemailer SMTP errors carry `responseCode` (the SMTP reply) and `code` (ECONNECTION, ETIMEDOUT...).
 * Unknown errors are retried: a retry costs little, and after maxReceiveCount the job still reaches the
 * dead-letter queue with its reason instead of being lost.
 */

// The message itself, its sender or its recipients are at fault: sending again cannot succeed.
const PERMANENT_SES = new Set([
  'MessageRejected',
  'BadRequestException',
  'MailFromDomainNotVerifiedException',
  'NotFoundException',
]);

const NETWORK_CODES = new Set([
  'ECONNECTION',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const MAX_REASON_LENGTH = 200;

export function classifySendError(error: unknown): SendError {
  if (error instanceof PermanentSendError || error instanceof TransientSendError) return error;
  if (error instanceof RecipientsRefusedError && error.senderRefused) {
    // Not the recipients': the relay will refuse every mail from this sender until its setup changes.
    return new PermanentSendError(
      maskedReason(`the relay refused the sender at RCPT TO: ${error.refused[0]?.reply ?? ''}`),
      { cause: error },
    );
  }
  if (error instanceof RecipientsRefusedError) {
    // The relay settles each refusal on its own (core/relay/relay); taken whole, any one refused for now may pass.
    const reason = maskedReason(`every recipient was refused: ${error.refused[0]?.reply ?? ''}`);
    return error.refused.some((r) => r.code < 500)
      ? new TransientSendError(reason, { cause: error })
      : new PermanentSendError(reason, { cause: error });
  }
  const shape = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    responseCode?: unknown;
    response?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const message = typeof shape.message === 'string' ? shape.message : '';

  // A session that cannot be made safe (STARTTLS, the TLS handshake, AUTH) says something about the relay's
  // configuration or the network path, not about this message: whatever the reply code, retry with backoff,
  // and never go on in plaintext. relaySessionFailure counts these for the operator's alarm.
  const session = relaySessionFailure(error);
  if (session === 'starttls')
    return new TransientSendError(maskedReason(`smtp starttls failed: ${smtpText(shape, message)}`), {
      cause: error,
    });
  if (session === 'auth')
    return new TransientSendError(maskedReason(`smtp auth failed: ${smtpText(shape, message)}`), {
      cause: error,
    });

  if (typeof shape.responseCode === 'number') {
    const reason = maskedReason(`smtp ${shape.responseCode}: ${message}`);
    if (shape.responseCode >= 500) return new PermanentSendError(reason, { cause: error });
    return new TransientSendError(reason, { cause: error });
  }
  if (typeof shape.code === 'string' && NETWORK_CODES.has(shape.code)) {
    return new TransientSendError(maskedReason(`network ${shape.code}: ${message}`), { cause: error });
  }
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new TransientSendError(`timeout: ${name}`, { cause: error });
  }
  if (PERMANENT_SES.has(name))
    return new PermanentSendError(maskedReason(`ses ${name}: ${message}`), { cause: error });

  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number')
    return new TransientSendError(maskedReason(`ses ${name} (${status}): ${message}`), { cause: error });
  return new TransientSendError(maskedReason(`${name}: ${message}`), { cause: error });
}

/**
 * What an SMTP session failed at before any mail could be handed over, from nodemailer's error codes: ETLS
 * (STARTTLS refused, e.g. `502 5.5.1` from a relay that no longer offers it, or a failed upgrade), a socket
 * error whose original code is Node's TLS verdict on the certificate or handshake (nodemailer reports it as
 * ESOCKET and keeps Node's code as `originalCode`), and EAUTH.
 * https://nodejs.org/api/tls.html#x509-certificate-error-codes
 */
export function relaySessionFailure(error: unknown): SessionFailure | undefined {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    originalCode?: unknown;
  };
  if (shape.code === 'ETLS') return 'starttls';
  if (typeof shape.originalCode === 'string' && TLS_CODE.test(shape.originalCode)) return 'starttls';
  if (shape.code === 'EAUTH') return 'auth';
  return undefined;
}

const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|^ERR_(SSL|TLS)_/;

/** The server's reply when there was one (it says more than nodemailer's message), else the message. */
function smtpText(shape: { response?: unknown }, message: string): string {
  return typeof shape.response === 'string' && shape.response !== ''
    ? `${message}: ${shape.response}`
    : message;
}

/**
 * Providers often quote the recipient in their error text; reasons are stored and logged, so every
 * address in them is masked, and they are kept short.
 */
export function maskedReason(reason: string): string {
  const masked = reason
    .replace(/[^\s<>"'(),;:]+@([^\s<>"'(),;:]+)/g, '***@$1')
    .replace(/\s+/g, ' ')
    .trim();
  return masked.length > MAX_REASON_LENGTH ? `${masked.slice(0, MAX_REASON_LENGTH - 3)}...` : masked;
}
