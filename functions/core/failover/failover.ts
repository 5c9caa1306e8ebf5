import { errorName, PermanentSendError, TransientSendError } from '../errors';
import { METRIC, type Metrics } from '../metrics';
import type { Clock, Log, OutboundMail, SendReceipt, Transport } from '../ports';
import { type AttemptVerdict, classifyAttempt, type ProviderKind } from './attempt-outcome';
import type { Pass, ProviderBreakers } from './breaker';

/** One configured provider: its id (the configuration's), its kind and its transport. */
export interface Provider {
  readonly id: string;
  readonly kind: ProviderKind;
  readonly transport: Transport;
}

/** One attempt of one job on one provider, as the message history shows it. */
export interface ProviderAttempt {
  readonly provider: string;
  readonly outcome: 'sent' | 'skipped' | AttemptVerdict;
  readonly reason?: string;
}

export type FailoverResult =
  | {
      readonly sent: true;
      readonly provider: string;
      readonly receipt: SendReceipt;
      readonly attempts: ReadonlyArray<ProviderAttempt>;
    }
  | {
      readonly sent: false;
      /** The error that stopped the job (the last provider's), or why no provider was tried. */
      readonly error: unknown;
      /**
       * `skipped`: nothing was tried: every provider's breaker was open (or being probed), or too little time
       * was left to start (FailoverDeps.startDeadline, hopDeadline).
       */
      readonly verdict: AttemptVerdict | 'skipped';
      /** The provider of the last attempt: an ambiguous job is retried there and nowhere else. */
      readonly provider: string | undefined;
      readonly attempts: ReadonlyArray<ProviderAttempt>;
    };

export interface FailoverDeps {
  /** In the order they are tried. */
  readonly providers: ReadonlyArray<Provider>;
  /** Absent (one provider): no breaker, no table calls. */
  readonly breakers?: ProviderBreakers | undefined;
  readonly metrics: Metrics;
  readonly log: Log;
  /**
   * The first attempt starts only while `clock.now()` is at most `startDeadline.atMs`: the invocation's end
   * less a margin (one Lambda's timeout would cut mid-send). A hop to the next provider also waits for
   * `hopDeadline.atMs`: the claim's lease end less the longest one attempt may take (a hop that could outlive
   * the claim would let a redelivery claim the job and send it again while this one still runs). Either way
   * the job is retried later instead.
   */
  readonly startDeadline?: Deadline | undefined;
  readonly hopDeadline?: Deadline | undefined;
}

interface Deadline {
  readonly atMs: number;
  readonly clock: Clock;
}

/**
 * Sends one mail through the first provider that takes it. The next provider is tried only when the one
 * before certainly did not take the mail (classifyAttempt: `not-accepted`, `provider-config`); a message the
 * provider refused, or an attempt whose outcome is unknown, stops here, so no job can be sent by two
 * providers. `pinned` (the provider of an earlier uncertain attempt, from the claim) restricts the job to
 * that provider, breaker or not: the mail may be there already, and only there can a retry stay one copy
 * (docs/failover.md).
 */
export async function sendWithFailover(
  mail: OutboundMail,
  deps: FailoverDeps,
  pinned?: string,
): Promise<FailoverResult> {
  const pinnedProvider = pinned === undefined ? undefined : deps.providers.find((p) => p.id === pinned);
  if (pinned !== undefined && pinnedProvider === undefined)
    // The configuration no longer has it: the job cannot be retried where it may be, and must not go elsewhere.
    return {
      sent: false,
      verdict: 'message-permanent',
      provider: pinned,
      attempts: [],
      error: new PermanentSendError(
        `an earlier attempt on ${pinned} may have sent it, and ${pinned} is no longer configured: not sent elsewhere`,
      ),
    };
  const candidates = pinnedProvider ? [pinnedProvider] : deps.providers;
  const attempts: ProviderAttempt[] = [];
  if (isLate(deps.startDeadline)) {
    deps.log.warn('no time left to start the send; retrying later', { jobId: mail.jobId });
    return nothingTried(
      attempts,
      'not started: too little time was left in the invocation to send it: retried later',
    );
  }
  let last: { error: unknown; verdict: AttemptVerdict; provider: string } | undefined;
  for (const [index, provider] of candidates.entries()) {
    const breakers = pinnedProvider ? undefined : deps.breakers;
    const pass = breakers ? await breakers.admit(provider.id) : undefined;
    if (breakers && pass === undefined) {
      attempts.push({ provider: provider.id, outcome: 'skipped', reason: 'breaker open' });
      continue;
    }
    try {
      const receipt = await provider.transport.send(mail);
      await report(deps, provider.id, pass, true);
      attempts.push({ provider: provider.id, outcome: 'sent' });
      return { sent: true, provider: provider.id, receipt, attempts };
    } catch (error) {
      const { verdict, reason } =
        error instanceof PermanentSendError
          ? { verdict: 'message-permanent' as const, reason: error.reason }
          : classifyAttempt(error, provider.kind);
      attempts.push({ provider: provider.id, outcome: verdict, reason });
      await report(deps, provider.id, pass, verdict === 'message-permanent');
      last = { error, verdict, provider: provider.id };
      if (verdict === 'ambiguous') {
        deps.metrics.count(METRIC.uncertainSend, 1, { provider: provider.id });
        deps.log.warn('send outcome unknown; retrying later on the same provider', {
          jobId: mail.jobId,
          provider: provider.id,
          reason,
        });
      }
      if (verdict === 'provider-config') {
        deps.metrics.count(METRIC.providerAccountError, 1, { provider: provider.id });
        deps.log.error('provider refused the account or its setup', {
          jobId: mail.jobId,
          provider: provider.id,
          reason,
        });
      }
      if (verdict === 'ambiguous' || verdict === 'message-permanent') break;
      const next = candidates.slice(index + 1)[0];
      if (next !== undefined && (isLate(deps.startDeadline) || isLate(deps.hopDeadline))) {
        deps.log.warn('no time left in the claim for the next provider; retrying later', {
          jobId: mail.jobId,
          provider: provider.id,
          next: next.id,
          reason,
        });
        break;
      }
      if (next !== undefined) {
        deps.metrics.count(METRIC.failedOver, 1, { provider: provider.id });
        deps.log.warn('provider did not take the mail; trying the next', {
          jobId: mail.jobId,
          provider: provider.id,
          next: next.id,
          reason,
          error: errorName(error),
        });
      }
    }
  }
  if (last !== undefined) return { sent: false, ...last, attempts };
  return nothingTried(
    attempts,
    `every provider's breaker is open (${attempts.map((a) => a.provider).join(', ')}): retried later`,
  );
}

/** No provider was tried: the job is retried later, on no provider in particular. */
function nothingTried(attempts: ReadonlyArray<ProviderAttempt>, reason: string): FailoverResult {
  return {
    sent: false,
    verdict: 'skipped',
    provider: undefined,
    attempts,
    error: new TransientSendError(reason),
  };
}

function isLate(deadline: Deadline | undefined): boolean {
  return deadline !== undefined && deadline.clock.now() > deadline.atMs;
}

async function report(deps: FailoverDeps, provider: string, pass: Pass | undefined, healthy: boolean) {
  if (deps.breakers === undefined || pass === undefined) return;
  try {
    const change = await deps.breakers.report(provider, pass, healthy);
    if (change === 'opened' || change === 'reopened') {
      deps.metrics.count(METRIC.breakerOpen, 1, { provider });
      deps.log.error('circuit breaker opened: the provider is skipped until a probe succeeds', {
        provider,
        change,
      });
    } else if (change === 'closed') {
      deps.log.info('circuit breaker closed: the probe succeeded', { provider });
    }
  } catch (error) {
    // The breaker is advice: a table that cannot be written must not turn a sent mail into a failure.
    deps.log.warn('could not update the circuit breaker', { provider, error: errorName(error) });
  }
}
