import { errorName } from './errors';
import type { Log } from './ports';

/**
 * What happened to a message: one item per message id (`msg#<id>`) with its current status and the
 * history of every change. The send path writes `queued`, the relay `sending`, then `sent` (with the
 * provider's message id) or `failed` (with the reason); a transient failure puts it back to `queued`.
 * The events function then records what the provider reported: `delivered`, `bounced`, `complained`,
 * `rejected` (delivery-events.ts).
 */
export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'failed',
  'delivered',
  'bounced',
  'complained',
  'rejected',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * Statuses that come from the provider's events, after the relay is done with the mail. A relay status
 * that arrives after one of them (SNS may deliver an event before the relay wrote `sent`) is appended to
 * the history but does not replace it: the mail's outcome is what a caller polls for.
 */
export const OUTCOME_STATUSES = ['delivered', 'bounced', 'complained', 'rejected'] as const;
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number];

export function isOutcome(status: MessageStatus): status is OutcomeStatus {
  return (OUTCOME_STATUSES as ReadonlyArray<MessageStatus>).includes(status);
}

export interface StatusChange {
  readonly status: MessageStatus;
  /** ISO 8601. */
  readonly at: string;
  /** The provider's message id when sent; the reason when failed or retried. */
  readonly detail?: string;
}

export interface MessageRecord {
  readonly id: string;
  readonly status: MessageStatus;
  readonly history: ReadonlyArray<StatusChange>;
  /** The API key (its id) that sent the message; absent for contact-form mail. */
  readonly keyId?: string;
}

export interface MessageStore {
  /**
   * Appends a change to the message's history and makes it the current status, unless the current status
   * is an outcome (OUTCOME_STATUSES) and the change is not: then it is only appended.
   */
  record(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void>;
  /**
   * Records a provider event on a message Postroom queued. Returns false, writing nothing, when there is no
   * such message (another sender's mail in the same configuration set, or a record past its TTL).
   */
  recordOutcome(id: string, change: StatusChange & { status: OutcomeStatus }): Promise<boolean>;
  get(id: string): Promise<MessageRecord | undefined>;
}

/**
 * Status is a report, not the mail: a status write that fails is logged and the caller carries on, so the
 * relay never resends (or drops) a mail because the table hiccuped.
 */
export async function recordStatus(
  messages: MessageStore | undefined,
  log: Log,
  id: string,
  change: StatusChange,
  owner?: { keyId: string },
): Promise<void> {
  if (messages === undefined) return;
  try {
    await messages.record(id, change, owner);
  } catch (error) {
    log.warn('could not record the message status', {
      jobId: id,
      status: change.status,
      error: errorName(error),
    });
  }
}
