import { createHash } from 'node:crypto';
import { type PostroomConfig, SEND_START_MARGIN_SECONDS } from '../config/config';
import {
  errorName,
  PermanentSendError,
  RecipientsRefusedError,
  type SendError,
  TransientSendError,
} from '../errors';
import type { ProviderBreakers } from '../failover/breaker';
import { type Provider, type ProviderAttempt, sendWithFailover } from '../failover/failover';
import { maskAddress } from '../mail/address';
import { fetchAttachments } from '../mail/attachments';
import { type MailJob, parseMailJob } from '../mail/mail-job';
import { composeMail } from '../mail/mime';
import { type MessageStore, recordStatus } from '../messages';
import { DURATION_METRIC, type FailureReason, METRIC, type Metrics } from '../metrics';
import type {
  BlobStore,
  ClaimStore,
  Clock,
  Log,
  RefusedRecipient,
  RelayQueue,
  SendReceipt,
  SettledRecipients,
  Transport,
} from '../ports';
import { withLogAttributes } from '../ports';
import { type ScheduleStore, scheduledJobGate } from '../scheduling/schedule-store';
import { emailEvent } from '../webhooks/producers';
import { publishWebhookEvent, type WebhookQueue } from '../webhooks/publish';
import { classifySendError, maskedReason, relaySessionFailure } from './send-errors';

/** One received queue message, as the relay needs it (from an SQS record or the local poller). */
export interface RelayRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** SQS ApproximateReceiveCount: 1 on the first delivery. */
  readonly receiveCount: number;
  /** The submitting request's id, from the `postroom-correlation-id` message attribute. */
  readonly correlationId?: string | undefined;
}

export interface RelayDeps {
  readonly config: PostroomConfig;
  /** The one provider, named by the configuration's first transport. Give this or `providers`. */
  readonly transport?: Transport;
  /** The providers in failover order (config.transports), each with its transport (docs/failover.md). */
  readonly providers?: ReadonlyArray<Provider>;
  /** The shared circuit breakers of the providers; absent, every provider is always tried. */
  readonly breakers?: ProviderBreakers;
  readonly claims: ClaimStore;
  readonly queue: RelayQueue;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: Metrics;
  /** [0, 1): the jitter source; tests make it fixed. */
  readonly random: () => number;
  /** The attachments bucket, for jobs whose files did not fit in the message. */
  readonly blobs?: BlobStore;
  /** Message status (sending, sent, failed); a failed status write is logged, never retried as a send. */
  readonly messages?: MessageStore;
  /** Keeps sends within the provider's send rate (relay.maxSendRate); absent, sends go out at once. */
  readonly pacer?: { acquire(): Promise<() => void> };
  /** Where `email.sent` and `email.failed` webhook events go; absent, none are published. */
  readonly webhookQueue?: WebhookQueue;
  /**
   * Scheduled messages' state (core/scheduling): a job with a schedule marker is started with a conditional
   * write on it, and dropped when it was canceled or moved. Only such jobs read it.
   */
  readonly schedules?: ScheduleStore;
}

export type RelayOutcome = 'sent' | 'duplicate' | 'retry' | 'dead-lettered' | 'canceled' | 'superseded';

const OUTCOME_METRIC = {
  sent: METRIC.sent,
  duplicate: METRIC.duplicate,
  retry: METRIC.retried,
  canceled: METRIC.canceledDropped,
  superseded: METRIC.supersededDropped,
} as const;

/** What became of one record; a dead-lettered one says why, for the MailFailed reason dimension. */
type RecordResult =
  | { outcome: Exclude<RelayOutcome, 'dead-lettered'>; jobId: string | undefined }
  | { outcome: 'dead-lettered'; jobId: string | undefined; failure: FailureReason };

export interface RelayBatchResult {
  /** Message ids to report as batchItemFailures: they stay on the queue for another attempt. */
  readonly failures: ReadonlyArray<string>;
  readonly outcomes: ReadonlyArray<{ messageId: string; jobId: string | undefined; outcome: RelayOutcome }>;
}

/** The invocation a batch runs in. */
export interface RelayInvocation {
  /**
   * When the function's time runs out (ms on the deps' clock: Lambda's remaining time added to now). No send
   * starts within SEND_START_MARGIN_SECONDS of it: Lambda's timeout would cut it mid-send, the crash window.
   */
  readonly endsAtMs: number;
}

/**
 * Relays a batch. Each record succeeds or fails on its own; a record is reported as failed (and so kept
 * on the queue) unless its mail was sent, was already sent, or is safely on the dead-letter queue.
 */
export async function relayBatch(
  records: ReadonlyArray<RelayRecord>,
  deps: RelayDeps,
  invocation?: RelayInvocation,
): Promise<RelayBatchResult> {
  const outcomes = await Promise.all(
    records.map(async (record) => {
      const result = await relayRecord(record, deps, invocation).catch((error: unknown): RecordResult => {
        // Something other than the provider failed (the table, the queue): keep the message for a retry.
        deps.log.error('relay attempt failed', {
          messageId: record.messageId,
          ...(record.correlationId ? { correlationId: record.correlationId } : {}),
          outcome: 'retry',
          error: errorName(error),
        });
        return { outcome: 'retry', jobId: undefined };
      });
      const { outcome, jobId } = result;
      if (result.outcome === 'dead-lettered')
        deps.metrics.count(METRIC.failed, 1, { reason: result.failure });
      else deps.metrics.count(OUTCOME_METRIC[result.outcome]);
      return { messageId: record.messageId, jobId, outcome };
    }),
  );
  return { failures: outcomes.filter((o) => o.outcome === 'retry').map((o) => o.messageId), outcomes };
}

async function relayRecord(
  record: RelayRecord,
  deps: RelayDeps,
  invocation: RelayInvocation | undefined,
): Promise<RecordResult> {
  const { claims, clock, config, log, queue } = deps;
  const parsed = parseMailJob(record.body);
  if (!parsed.ok) {
    // A message no relay can read will never become readable: dead-letter it now with the reason.
    await queue.deadLetter(record.body, {
      reason: parsed.reason,
      jobId: undefined,
      correlationId: record.correlationId,
    });
    log.warn('job dead-lettered', {
      messageId: record.messageId,
      ...(record.correlationId ? { correlationId: record.correlationId } : {}),
      outcome: 'dead-lettered',
      reason: parsed.reason,
    });
    return { outcome: 'dead-lettered', jobId: undefined, failure: 'invalid-job' };
  }
  const job = parsed.job;
  const context = {
    jobId: job.id,
    ...sourceContext(job),
    attempt: record.receiveCount,
    ...(record.correlationId ? { correlationId: record.correlationId } : {}),
  };
  // The send function writes `queued` while it enqueues, and a failed write does not refuse the mail: each
  // relay status carries the owning key too, so GET /v1/messages still finds an API message.
  const owner = job.source.kind === 'api' ? { keyId: job.source.keyId } : undefined;
  const status = (change: Parameters<typeof recordStatus>[3]) =>
    recordStatus(deps.messages, log, job.id, change, { owner });

  const now = clock.now();
  const claim = await claims.claim(job.id, now, now + config.relay.claimLeaseSeconds * 1000);
  if (claim.kind === 'sent') {
    log.info('job already sent; dropping the duplicate delivery', { ...context, outcome: 'duplicate' });
    return { outcome: 'duplicate', jobId: job.id };
  }
  if (claim.kind === 'busy') {
    // Another attempt is sending this job right now. Look again when its lease ends.
    const wait = Math.max(1, Math.ceil((claim.leaseUntil - now) / 1000));
    await retryLater(record, wait, deps, context);
    log.info('job is being sent by another attempt', { ...context, outcome: 'retry', delaySeconds: wait });
    return { outcome: 'retry', jobId: job.id };
  }

  // A scheduled job starts with a conditional write on its message (scheduled → sending), the other side of
  // the cancel's (scheduled → canceled): exactly one wins, so a canceled mail is never sent, however many
  // times its schedule fires. The claim is released, not completed: it never sent anything.
  let started = false;
  if (job.scheduledAt !== undefined) {
    if (deps.schedules === undefined) throw new Error('a scheduled job needs the schedule store');
    const start = await deps.schedules.start(job.id, job.scheduledAt, {
      status: 'sending',
      at: iso(clock.now()),
      detail: `attempt ${record.receiveCount}`,
    });
    const decision = scheduledJobGate(start, job.scheduledAt);
    if (decision !== 'send') {
      await claims.release(job.id, decision, clock.now());
      log.info(`scheduled job ${decision}; dropping it`, { ...context, outcome: decision });
      return { outcome: decision, jobId: job.id };
    }
    started = start.started;
  }

  // The status item is not the claim: the send need not wait for it. Every later status write waits for it,
  // so the history stays in order. recordStatus never throws. A first attempt writes no `sending`: the
  // message goes from `queued` straight to its result, one table write fewer per message (docs/cost.md);
  // a retry says which attempt is under way, as the claim's lease does for the relay itself.
  const sending =
    started || record.receiveCount <= 1
      ? Promise.resolve()
      : status({
          status: 'sending',
          at: iso(clock.now()),
          detail: `attempt ${record.receiveCount}`,
        });
  // Recipients an earlier attempt settled (the mail went to them, or they were refused for good) are not
  // sent to again: a retry after a partial refusal goes to the rest only.
  const settledBefore = new Set([...claim.settled.delivered, ...claim.settled.refused]);
  let pending: string[] = [];
  let receipt: SendReceipt;
  let provider: string | undefined;
  try {
    const composed = { ...(await compose(job, deps.blobs)), correlationId: record.correlationId };
    pending = composed.to.filter((address) => !settledBefore.has(recipientKey(address)));
    if (pending.length === 0) {
      // Only after a crash between settling the last recipients and completing the claim.
      receipt = { providerMessageId: 'every recipient was settled by an earlier attempt' };
    } else {
      const finished = await deps.pacer?.acquire();
      const started = clock.now();
      let result: Awaited<ReturnType<typeof sendWithFailover>>;
      try {
        result = await sendWithFailover(
          { ...composed, to: pending },
          {
            providers: providersOf(deps),
            breakers: deps.breakers,
            metrics: deps.metrics,
            log: withLogAttributes(log, context),
            // An attempt must end within the claim's lease and the invocation (docs/failover.md).
            ...(invocation === undefined
              ? {}
              : { startDeadline: { atMs: invocation.endsAtMs - SEND_START_MARGIN_SECONDS * 1000, clock } }),
            hopDeadline: {
              atMs: now + (config.relay.claimLeaseSeconds - config.relay.timeoutSeconds) * 1000,
              clock,
            },
          },
          claim.uncertainProvider,
        );
      } finally {
        finished?.();
      }
      await failedOverHistory(result.attempts);
      provider = result.provider;
      if (!result.sent) throw new AttemptsFailed(result);
      receipt = result.receipt;
      deps.metrics.duration(DURATION_METRIC.sendLatency, clock.now() - started);
    }
  } catch (caught) {
    const verdict = caught instanceof AttemptsFailed ? caught.result.verdict : undefined;
    const error = caught instanceof AttemptsFailed ? caught.error : caught;
    if (error instanceof RecipientsRefusedError && !error.senderRefused) {
      receipt = { providerMessageId: '', refused: error.refused };
    } else {
      const session = relaySessionFailure(error);
      if (session !== undefined) deps.metrics.count(METRIC.relaySessionFailed, 1, { stage: session });
      // An unknown outcome is never final and never goes elsewhere: retried on the same provider (the claim
      // remembers it), counted as uncertain. docs/failover.md
      const uncertain = verdict === 'ambiguous' ? provider : undefined;
      return failed(classifySendError(error), { delivered: [], refused: [] }, [], uncertain);
    }
  }

  const refused = receipt.refused ?? [];
  const refusedAddresses = new Set(refused.map((r) => r.recipient));
  const accepted = pending.filter((address) => !refusedAddresses.has(address));
  const forNow = refused.filter((r) => r.code < 500);
  const forGood = refused.filter((r) => r.code >= 500);
  if (forNow.length > 0) deps.metrics.count(METRIC.recipientRefused, forNow.length, { kind: 'transient' });
  if (forGood.length > 0) deps.metrics.count(METRIC.recipientRefused, forGood.length, { kind: 'permanent' });
  const settledNow = {
    delivered: accepted.map(recipientKey),
    refused: forGood.map((r) => recipientKey(r.recipient)),
  };
  const refusedView = refused.map((r) => ({
    recipient: maskAddress(r.recipient),
    reply: maskedReason(r.reply),
  }));
  if (refused.length > 0)
    log.warn('recipients refused', {
      ...context,
      accepted: accepted.length,
      refused: refusedView,
    });

  const firstReply = (list: ReadonlyArray<RefusedRecipient>) => maskedReason(list[0]?.reply ?? '');
  if (forNow.length > 0) {
    // Refused for now: retried for those recipients alone; the ones that have the mail never get it twice.
    const sentPart = accepted.length > 0 ? `; sent to ${accepted.length}: ${receipt.providerMessageId}` : '';
    return failed(
      new TransientSendError(
        `${forNow.length} of ${pending.length} recipients refused for now: ${firstReply(forNow)}${sentPart}`,
      ),
      settledNow,
      refusedView,
    );
  }
  if (accepted.length === 0 && claim.settled.delivered.length === 0) {
    // All refused stays a failure: nobody has the mail. With nothing pending, an earlier attempt refused them
    // all and was killed before the queue message was deleted: its reason (and the provider's reply) stands.
    const reason =
      forGood.length === 0 && claim.reason !== undefined
        ? claim.reason
        : `every recipient was refused: ${firstReply(forGood)}`;
    return failed(new PermanentSendError(reason), settledNow, refusedView);
  }

  const providerMessageId =
    accepted.length > 0 || pending.length === 0
      ? receipt.providerMessageId
      : 'no recipient left: the others have the mail from an earlier attempt';
  const sentAt = clock.now();
  // The claim and the status are separate items; both are written before the message is deleted.
  await Promise.all([
    claims.complete(job.id, providerMessageId, sentAt).catch((error: unknown) =>
      // The provider has the mail. Reporting a failure would only let the lease expire and send it again,
      // so the message is still deleted; the record stays "sending" until its TTL.
      log.error('sent, but the completion record failed', { ...context, error: errorName(error) }),
    ),
    sending.then(() =>
      status({
        status: 'sent',
        at: iso(sentAt),
        detail: providerMessageId,
        ...(provider === undefined ? {} : { provider }),
        ...(refusedView.length > 0 ? { refused: refusedView } : {}),
      }),
    ),
  ]);
  const createdAt = Date.parse(job.createdAt);
  if (Number.isFinite(createdAt))
    deps.metrics.duration(DURATION_METRIC.queueToSentLatency, sentAt - createdAt);
  await publishEmailEvent(deps, job, 'sent', iso(sentAt), {
    recipients: accepted,
    providerMessageId,
  });
  log.info('job sent', {
    ...context,
    outcome: 'sent',
    providerMessageId,
    recipients: accepted.map(maskAddress),
  });
  return { outcome: 'sent', jobId: job.id };

  /**
   * An attempt a provider certainly did not take, after which the next one was tried: one `sending` entry
   * per hop, naming the next provider and why the one before did not take the mail.
   */
  async function failedOverHistory(attempts: ReadonlyArray<ProviderAttempt>): Promise<void> {
    const hops = attempts.slice(0, -1).filter((a) => a.outcome !== 'sent');
    if (hops.length === 0) return;
    await sending;
    for (const [index, hop] of hops.entries()) {
      const next = attempts[index + 1]?.provider;
      await status({
        status: 'sending',
        at: iso(clock.now()),
        detail: `${hop.provider} ${hop.outcome}${hop.reason ? `: ${hop.reason}` : ''}; trying ${next}`,
        provider: hop.provider,
      });
    }
  }

  /** A failed attempt: retried with backoff, or dead-lettered when it cannot pass or its attempts are spent. */
  async function failed(
    failure: SendError,
    settled: SettledRecipients,
    refusedRecipients: ReadonlyArray<{ recipient: string; reply: string }>,
    uncertainProvider?: string,
  ): Promise<RecordResult> {
    const withRefused = {
      ...(refusedRecipients.length > 0 ? { refused: refusedRecipients } : {}),
      ...(provider === undefined ? {} : { provider }),
    };
    const exhausted = failure.retryable && record.receiveCount >= config.queue.maxReceiveCount;
    if (!failure.retryable || exhausted) {
      const reason = exhausted
        ? `retries exhausted after ${record.receiveCount} attempts: ${failure.reason}`
        : failure.reason;
      await queue.deadLetter(record.body, { reason, jobId: job.id, correlationId: record.correlationId });
      await claims.fail(job.id, reason, clock.now(), settled).catch((failError: unknown) =>
        // The job is on the DLQ; a stale claim only delays a redrive until its lease ends.
        log.warn('could not record the failure', { ...context, error: errorName(failError) }),
      );
      await sending;
      await status({ status: 'failed', at: iso(clock.now()), detail: reason, ...withRefused });
      await publishEmailEvent(deps, job, 'failed', iso(clock.now()), { recipients: pending, reason });
      log.warn('job dead-lettered', { ...context, outcome: 'dead-lettered', reason });
      return {
        outcome: 'dead-lettered',
        jobId: job.id,
        failure: exhausted ? 'retries-exhausted' : 'permanent-rejection',
      };
    }
    await claims.release(job.id, failure.reason, clock.now(), settled, uncertainProvider);
    const delay = backoffSeconds(record.receiveCount, config, deps.random);
    await retryLater(record, delay, deps, context);
    await sending;
    await status({
      status: 'queued',
      at: iso(clock.now()),
      detail: `will retry: ${failure.reason}`,
      ...withRefused,
    });
    log.warn('send failed; will retry', {
      ...context,
      outcome: 'retry',
      reason: failure.reason,
      delaySeconds: delay,
    });
    return { outcome: 'retry', jobId: job.id };
  }
}

/** Carries the failover result out of the send block to the failure handling. */
class AttemptsFailed extends Error {
  readonly error: unknown;
  constructor(readonly result: Extract<Awaited<ReturnType<typeof sendWithFailover>>, { sent: false }>) {
    super('no provider took the mail');
    this.name = 'AttemptsFailed';
    this.error = result.error;
  }
}

/** The providers in order: given, or the one transport under the configuration's first transport id. */
function providersOf(deps: RelayDeps): ReadonlyArray<Provider> {
  if (deps.providers !== undefined) return deps.providers;
  if (deps.transport === undefined) throw new Error('the relay needs a transport or providers');
  // A configuration built by hand (tests) may have only `transport`.
  const first = deps.config.transports?.[0] ?? deps.config.transport;
  return [{ id: first.id, kind: first.kind, transport: deps.transport }];
}

/**
 * `email.sent` / `email.failed` for a job. The event id derives from the job, so a receiver sees one webhook-id
 * for one outcome of one message even if a crash makes the relay publish it twice. Never throws.
 */
async function publishEmailEvent(
  deps: RelayDeps,
  job: MailJob,
  status: 'sent' | 'failed',
  at: string,
  details: { recipients: ReadonlyArray<string>; providerMessageId?: string; reason?: string },
): Promise<void> {
  if (deps.webhookQueue === undefined || deps.config.webhooks.length === 0) return;
  await publishWebhookEvent(
    { config: deps.config, queue: deps.webhookQueue, log: deps.log, metrics: deps.metrics },
    emailEvent(`${job.id}_${status}`, at, {
      messageId: job.id,
      ...(job.source.kind === 'api' ? {} : { formId: job.source.formId }),
      status,
      recipients: details.recipients,
      ...(details.providerMessageId !== undefined ? { providerMessageId: details.providerMessageId } : {}),
      ...(details.reason !== undefined ? { reason: details.reason } : {}),
    }),
  );
}

/**
 * A recipient as the claim remembers it: a digest of the address, so the claim item holds no address yet
 * tells a retry exactly who already has the mail.
 */
export function recipientKey(address: string): string {
  return createHash('sha256').update(address).digest('base64url').slice(0, 22);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** What a log line says about where a job came from. */
function sourceContext(job: MailJob): { formId: string } | { keyId: string } {
  return job.source.kind === 'api' ? { keyId: job.source.keyId } : { formId: job.source.formId };
}

async function compose(job: MailJob, blobs: BlobStore | undefined) {
  // Fetch failures are classified where they happen: a missing object is permanent, the rest transient.
  const stored = await fetchAttachments(job, blobs);
  try {
    return await composeMail(job, stored);
  } catch (error) {
    throw new PermanentSendError(`cannot compose the message: ${errorName(error)}`, { cause: error });
  }
}

async function retryLater(record: RelayRecord, delaySeconds: number, deps: RelayDeps, context: object) {
  try {
    await deps.queue.retryLater(record.receiptHandle, delaySeconds);
  } catch (error) {
    // The message still comes back, after the queue's visibility timeout instead of the backoff.
    deps.log.warn('could not set the retry delay', { ...context, error: errorName(error) });
  }
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so retries spread out
 * but never come back at once. https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffSeconds(attempt: number, config: PostroomConfig, random: () => number): number {
  const { retryBaseSeconds, retryMaxSeconds } = config.relay;
  const step = Math.min(retryMaxSeconds, retryBaseSeconds * 2 ** Math.max(0, attempt - 1));
  // SQS caps a visibility timeout at 12 hours.
  return Math.min(43_200, Math.round(step / 2 + random() * (step / 2)));
}
