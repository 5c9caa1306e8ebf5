import type { MailJob } from './mail/mail-job';

/**
 * The ports through which core code reaches the outside. Adapters implement them against AWS or the
 * local emulators; unit tests pass small fakes.
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface EnqueueOptions {
  /** Seconds (0 to 900) before the job can be received: SQS DelaySeconds, for mail scheduled soon. */
  readonly delaySeconds?: number;
}

/** Where accepted mail goes: the SQS mail queue. */
export interface MailQueue {
  /** `correlationId` ties the request's log lines to the relay's; it travels as a message attribute. */
  enqueue(job: MailJob, correlationId?: string, options?: EnqueueOptions): Promise<void>;
  /** Resolves when the queue can accept mail. */
  ping(): Promise<void>;
}

/** The envelope and bytes of one mail, ready for a provider. */
export interface OutboundMail {
  readonly jobId: string;
  readonly from: string;
  /** The envelope recipients (RCPT TO): to, cc and bcc. Bcc appears nowhere in `raw`. */
  readonly to: ReadonlyArray<string>;
  /** The complete RFC 5322 message. */
  readonly raw: Buffer;
  /** Message tags for providers that have them (SES EmailTags). */
  readonly tags?: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** The submitting request's id, which SES hands back in the mail's delivery events. */
  readonly correlationId?: string | undefined;
  /** The form of form mail and autoresponses (absent for API mail), also handed back in delivery events. */
  readonly formId?: string | undefined;
}

/** One envelope recipient the provider would not take, with its reply (SMTP: the answer to RCPT TO). */
export interface RefusedRecipient {
  readonly recipient: string;
  /** The reply code: 4xx is refused for now, 5xx for good. */
  readonly code: number;
  /** The provider's reply as it came, address included: mask it before it is stored or logged. */
  readonly reply: string;
}

/** What the provider answered when it took the mail. */
export interface SendReceipt {
  /**
   * The provider's own reference to the mail, what its operator searches for: the SES MessageId, or the SMTP
   * relay's final reply to DATA (Postfix: `250 2.0.0 Ok: queued as E444A2101AB`).
   */
  readonly providerMessageId: string;
  /** Recipients refused while the mail was taken for the others (absent or empty: every one was taken). */
  readonly refused?: ReadonlyArray<RefusedRecipient>;
}

/**
 * A mail provider: SES v2 or an SMTP relay. Throws what the provider threw; core classifies it. When it takes
 * the mail for nobody because every recipient was refused, it throws RecipientsRefusedError (core/errors).
 */
export interface Transport {
  send(mail: OutboundMail): Promise<SendReceipt>;
  close?(): Promise<void>;
}

/** Recipients an earlier attempt settled, as recipientKey values (core/relay/relay): they are not sent to again. */
export interface SettledRecipients {
  /** The provider took the mail for these. */
  readonly delivered: ReadonlyArray<string>;
  /** The provider refused these for good (5xx). */
  readonly refused: ReadonlyArray<string>;
}

export type ClaimResult =
  | {
      readonly kind: 'claimed';
      readonly attempt: number;
      readonly settled: SettledRecipients;
      /**
       * The provider of an earlier attempt whose outcome is unknown (it may have the mail): this job is retried
       * there and nowhere else (docs/failover.md).
       */
      readonly uncertainProvider?: string | undefined;
      /**
       * Why the last attempt failed, when one did. A relay killed after dead-lettering a job whose every
       * recipient was refused leaves nobody to send to: the redelivery dead-letters it with this reason.
       */
      readonly reason?: string | undefined;
    }
  /** The job was sent before: do not send it again. */
  | { readonly kind: 'sent' }
  /** Another attempt holds a live claim until `leaseUntil` (ms). */
  | { readonly kind: 'busy'; readonly leaseUntil: number };

/**
 * The idempotency records that make sending exactly-once on an at-least-once queue. A claim is a
 * conditional write: only one attempt at a time can hold it, and a claim whose lease ran out (its
 * holder crashed) can be taken over.
 */
export interface ClaimStore {
  claim(jobId: string, nowMs: number, leaseUntilMs: number): Promise<ClaimResult>;
  /** The provider accepted the mail. */
  complete(jobId: string, providerMessageId: string, nowMs: number): Promise<void>;
  /**
   * The attempt failed and will be retried: let the next attempt claim at once. `settled` adds the recipients
   * this attempt settled (the mail went to some, others were refused for now): the retry sends to the rest only.
   */
  release(
    jobId: string,
    reason: string,
    nowMs: number,
    settled?: SettledRecipients,
    /** The provider of this attempt when its outcome is unknown: later attempts go there only. */
    uncertainProvider?: string,
  ): Promise<void>;
  /**
   * The job went to the dead-letter queue. A redrive may claim it again, and sends to none of the recipients
   * settled so far (`settled` adds this attempt's).
   */
  fail(jobId: string, reason: string, nowMs: number, settled?: SettledRecipients): Promise<void>;
}

/** The relay's view of the queue it consumes. */
export interface RelayQueue {
  /** Hides a received message for `delaySeconds`: the backoff before its next attempt. */
  retryLater(receiptHandle: string, delaySeconds: number): Promise<void>;
  /** Puts a message body on the dead-letter queue with the reason it could not be sent. */
  deadLetter(
    body: string,
    details: { reason: string; jobId: string | undefined; correlationId?: string | undefined },
  ): Promise<void>;
}

/**
 * Where attachments too large for a queue message wait for the relay: the attachments bucket (S3),
 * encrypted, its objects expiring by lifecycle rule. Keys are `attachments/<job id>/<index>`.
 */
export interface BlobStore {
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** Throws BlobNotFoundError (core/errors) when there is no such object, anything else when it cannot tell. */
  get(key: string): Promise<Buffer>;
}

/** Structured logging; Powertools' Logger fits. Attributes never hold bodies or full addresses. */
export interface Log {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** A log whose every line also carries `attributes` (a correlation id, say); a line's own attributes win. */
export function withLogAttributes(log: Log, attributes: Record<string, unknown>): Log {
  return {
    info: (message, extra) => log.info(message, { ...attributes, ...extra }),
    warn: (message, extra) => log.warn(message, { ...attributes, ...extra }),
    error: (message, extra) => log.error(message, { ...attributes, ...extra }),
  };
}

/**
 * The form guards' and API key checks' counters and one-time records (rate limits, duplicates, captcha tokens),
 * in the table on AWS.
 */
export interface GuardStore {
  /**
   * Adds `by` (default 1; -1 takes a count back) to a counter and returns the new count; the counter
   * disappears at `expiresAtSeconds`.
   */
  increment(key: string, expiresAtSeconds: number, by?: number): Promise<number>;
  /**
   * Stores `value` under `key` unless an unexpired value is already there; returns the value already
   * stored, or undefined when this call stored it. (DynamoDB deletes expired items up to days late, so
   * expiry is checked on read, not left to TTL.)
   */
  remember(
    key: string,
    value: string,
    nowSeconds: number,
    expiresAtSeconds: number,
  ): Promise<string | undefined>;
  /** Removes a key stored by remember, when what it recorded did not happen after all. */
  forget(key: string): Promise<void>;
}
