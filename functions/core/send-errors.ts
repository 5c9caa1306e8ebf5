import { PermanentSendError, type SendError, TransientSendError } from './errors';

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
  const shape = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    responseCode?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const message = typeof shape.message === 'string' ? shape.message : '';

  if (typeof shape.responseCode === 'number') {
    const reason = bounded(`smtp ${shape.responseCode}: ${message}`);
    // An authentication failure is the relay's configuration, not the message: retry until fixed.
    if (shape.code === 'EAUTH')
      return new TransientSendError(bounded(`smtp auth failed: ${message}`), { cause: error });
    if (shape.responseCode >= 500) return new PermanentSendError(reason, { cause: error });
    return new TransientSendError(reason, { cause: error });
  }
  if (typeof shape.code === 'string' && NETWORK_CODES.has(shape.code)) {
    return new TransientSendError(bounded(`network ${shape.code}: ${message}`), { cause: error });
  }
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new TransientSendError(`timeout: ${name}`, { cause: error });
  }
  if (PERMANENT_SES.has(name))
    return new PermanentSendError(bounded(`ses ${name}: ${message}`), { cause: error });

  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number')
    return new TransientSendError(bounded(`ses ${name} (${status}): ${message}`), { cause: error });
  return new TransientSendError(bounded(`${name}: ${message}`), { cause: error });
}

/**
 * Providers often quote the recipient in their error text; reasons are stored and logged, so every
 * address in them is masked, and they are kept short.
 */
function bounded(reason: string): string {
  const masked = reason
    .replace(/[^\s<>"'(),;:]+@([^\s<>"'(),;:]+)/g, '***@$1')
    .replace(/\s+/g, ' ')
    .trim();
  return masked.length > MAX_REASON_LENGTH ? `${masked.slice(0, MAX_REASON_LENGTH - 3)}...` : masked;
}
