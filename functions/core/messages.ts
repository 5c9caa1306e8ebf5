import { errorName } from './errors';
import type { Log } from './ports';

/**
 * What happened to a message: one item per message id (`msg#<id>`) with its current status and the
 * history of every change. The send path writes `queued`, the relay `sending`, then `sent` (with the
 * provider's message id) or `failed` (with the reason); a transient failure puts it back to `queued`.
 */
export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

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
  /** Appends a change to the message's history and makes it the current status. */
  record(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void>;
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
