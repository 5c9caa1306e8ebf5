import { errorName } from './errors';
import type { Log } from './ports';

/**
 * What happened to a message: one item per message id (`msg#<id>`) with its current status and the
 * history of every change. The send path writes `queued`, the relay `sent` (with the provider's message
 * id) or `failed` (with the reason); a transient failure puts it back to `queued`, and each retry writes
 * `sending` with its attempt number before its result.
 * The send path writes `queued` while it enqueues, so the relay's first status may land before it: the
 * history is kept in the order writes arrive and read back in time order (inTimeOrder).
 * The events function then records what the provider reported: `delivered`, `bounced`, `complained`,
 * `rejected` (delivery-events.ts). A scheduled message (core/scheduling) starts `scheduled`, with its time
 * in `scheduledAt`, and becomes `sending` when the relay takes it at that time, or `canceled` when its sender
 * cancels it first: both are conditional writes on `scheduled`, so exactly one of them happens.
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
  'scheduled',
  'canceled',
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
  /** The transport (its id in the configuration) this attempt went to (docs/failover.md). */
  readonly provider?: string;
  /**
   * Recipients the provider refused in this attempt (masked), each with its reply (addresses in it masked):
   * on `sent` those refused while the others got the mail, on `queued` or `failed` those that made it fail.
   */
  readonly refused?: ReadonlyArray<RefusedRecipientView>;
}

export interface RefusedRecipientView {
  readonly recipient: string;
  readonly reply: string;
}

export interface MessageRecord {
  readonly id: string;
  readonly status: MessageStatus;
  readonly history: ReadonlyArray<StatusChange>;
  /** The API key (its id) that sent the message; absent for contact-form mail. */
  readonly keyId?: string;
  /** When a scheduled message is (or was) due: RFC 3339 UTC, to the second. */
  readonly scheduledAt?: string;
}

export interface MessageStore {
  /**
   * Appends a change to the message's history and makes it the current status, unless the current status
   * is an outcome (OUTCOME_STATUSES) and the change is not: then it is only appended.
   */
  record(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void>;
  /**
   * The send path's `queued`, written at the same time as the enqueue: appended to the history, and made
   * the current status only when the message has none yet, since the relay may already have written
   * `sending` or `sent`.
   */
  recordInitial(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void>;
  /**
   * Records a provider event on a message Postroom queued. Returns false, writing nothing, when there is no
   * such message (another sender's mail in the same configuration set, or a record past its TTL).
   */
  recordOutcome(id: string, change: StatusChange & { status: OutcomeStatus }): Promise<boolean>;
  /** The message with its history in time order (inTimeOrder). */
  get(id: string): Promise<MessageRecord | undefined>;
}

/**
 * The history sorted by `at`, keeping the order of writes for equal times (Array.prototype.sort is stable).
 * An entry without a readable time goes last.
 */
export function inTimeOrder(history: ReadonlyArray<StatusChange>): StatusChange[] {
  const time = (change: StatusChange) => {
    const ms = Date.parse(change.at);
    return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
  };
  return [...history].sort((a, b) => {
    const [x, y] = [time(a), time(b)];
    return x < y ? -1 : x > y ? 1 : 0;
  });
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
  write: { owner?: { keyId: string } | undefined; initial?: boolean } = {},
): Promise<void> {
  if (messages === undefined) return;
  try {
    if (write.initial) await messages.recordInitial(id, change, write.owner);
    else await messages.record(id, change, write.owner);
  } catch (error) {
    log.warn('could not record the message status', {
      jobId: id,
      status: change.status,
      error: errorName(error),
    });
  }
}
