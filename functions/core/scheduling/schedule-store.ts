import type { MessageStatus, StatusChange } from '../messages';

/**
 * The state of scheduled messages, on the message's own record (`msg#<id>`): its status, `scheduledAt`, and
 * the job (so that a reschedule can hand it to its new path). Every change is a conditional write on the
 * status `scheduled`: a cancel and the relay's start cannot both succeed.
 */
export interface ScheduleStore {
  /** Writes the message as `scheduled`, before its job is handed to its delivery path. */
  recordScheduled(
    id: string,
    change: StatusChange,
    entry: { keyId: string; scheduledAt: string; job: string },
  ): Promise<void>;
  /** `scheduled` → `canceled`; otherwise nothing is written and the current status is returned. */
  cancel(id: string, change: StatusChange): Promise<Transition>;
  /** Moves a message still `scheduled` at `from` to `to` (and its job); otherwise the current status. */
  move(id: string, from: string, to: string, job: string, change: StatusChange): Promise<Transition>;
  /**
   * The relay, under its claim: `scheduled` at `scheduledAt` → `sending`. Otherwise the record as it is
   * (undefined when there is none), for scheduledJobGate to judge.
   */
  start(id: string, scheduledAt: string, change: StatusChange): Promise<StartResult>;
  /** The job kept with a scheduled message (a serialized MailJob). */
  job(id: string): Promise<string | undefined>;
  /** Messages currently `scheduled`, of one API key or of all. */
  listScheduled(keyId?: string): Promise<ReadonlyArray<ScheduledMessage>>;
}

export type Transition =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: MessageStatus | undefined; readonly scheduledAt?: string };

export type StartResult =
  | { readonly started: true }
  | {
      readonly started: false;
      readonly record: { status: MessageStatus; scheduledAt: string | undefined } | undefined;
    };

export interface ScheduledMessage {
  readonly id: string;
  readonly scheduledAt: string;
  readonly keyId: string | undefined;
}

/** What the relay does with a scheduled job. */
export type GateDecision = 'send' | 'canceled' | 'superseded';

/**
 * Decides, from the relay's start transition, whether a scheduled job goes out. Only `send` sends:
 * - started: it was `scheduled` for this very time; no cancel can succeed any more.
 * - canceled: a cancel won; the job is dropped, however many times its schedule fires.
 * - superseded: the message was moved to another time; this is the old schedule's job, dropped.
 * - anything else at this job's time (an earlier attempt started it and failed, or is being retried): sent,
 *   under the claim that keeps it exactly once. No record (past its TTL): sent, as unscheduled mail is.
 */
export function scheduledJobGate(result: StartResult, jobScheduledAt: string): GateDecision {
  if (result.started || result.record === undefined) return 'send';
  if (result.record.status === 'canceled') return 'canceled';
  if (result.record.scheduledAt !== jobScheduledAt) return 'superseded';
  return 'send';
}
