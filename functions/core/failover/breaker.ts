import type { BreakerConfig } from '../config/config';
import type { Clock } from '../ports';

/**
 * A circuit breaker per provider, its state shared by every relay instance through a store (DynamoDB on AWS
 * and locally), not kept per container: a provider that fails for one relay is skipped by all of them.
 *
 * closed ──failure rate ≥ failureRate over ≥ minRequests attempts in a window──▶ open
 * open ──openSeconds later, one relay takes the probe (a conditional write)──▶ half-open
 * half-open ──the probe's send succeeds──▶ closed (a new generation: earlier windows no longer count)
 * half-open ──the probe fails──▶ open again
 *
 * Windows are fixed (`windowSeconds`), counted with atomic adds, so counting never conflicts between
 * relays; only the state changes are conditional writes. https://martinfowler.com/bliki/CircuitBreaker.html
 */
export type BreakerState =
  | { readonly state: 'closed'; readonly generation: number }
  | {
      readonly state: 'open';
      readonly generation: number;
      readonly openedAt: number;
      readonly openUntil: number;
    }
  | { readonly state: 'half-open'; readonly generation: number; readonly probeUntil: number };

export interface WindowCounts {
  readonly requests: number;
  readonly failures: number;
}

/** The breakers' shared state. Every method but read is one conditional or atomic write. */
export interface BreakerStore {
  /** A provider never seen is closed, generation 0. */
  read(provider: string): Promise<BreakerState>;
  /** Adds one attempt to a window of a generation; returns the window's counts after it. */
  count(
    provider: string,
    window: { generation: number; start: number },
    failed: boolean,
    expiresAtMs: number,
  ): Promise<WindowCounts>;
  /**
   * Opens the breaker if it is still in `from` (and, from closed, still in `generation`); true when this call
   * opened it, false when another relay changed it first.
   */
  open(
    provider: string,
    from: { state: 'closed' | 'half-open'; generation: number },
    openedAt: number,
    openUntil: number,
  ): Promise<boolean>;
  /**
   * Takes the one probe: open past its openUntil, or half-open whose probe lease ran out (its relay died),
   * becomes half-open with a lease until `probeUntil`. True for exactly one caller.
   */
  takeProbe(provider: string, nowMs: number, probeUntil: number): Promise<boolean>;
  /** half-open → closed, with the next generation; true when this call closed it. */
  close(provider: string, generation: number): Promise<boolean>;
}

/** What a relay may do with a provider now. */
export type Admission = 'allow' | 'probe' | 'skip';

/** The decision from a state alone; `probe` means "may try to take the probe". */
export function admission(state: BreakerState, nowMs: number): Admission {
  switch (state.state) {
    case 'closed':
      return 'allow';
    case 'open':
      return nowMs >= state.openUntil ? 'probe' : 'skip';
    case 'half-open':
      // Another relay holds the probe; a lease that ran out means it died with it.
      return nowMs >= state.probeUntil ? 'probe' : 'skip';
  }
}

/** The start of the fixed window `nowMs` is in. */
export function windowStart(nowMs: number, config: BreakerConfig): number {
  const size = config.windowSeconds * 1000;
  return Math.floor(nowMs / size) * size;
}

/** Whether a window's counts open the breaker. */
export function trips(counts: WindowCounts, config: BreakerConfig): boolean {
  return counts.requests >= config.minRequests && counts.failures / counts.requests >= config.failureRate;
}

/** A relay's pass through a provider's breaker: the admission, and what to report after the attempt. */
export interface Pass {
  readonly admission: Exclude<Admission, 'skip'>;
  readonly generation: number;
}

/** What a reported attempt did to the breaker, for the metrics and the log. */
export type BreakerChange = 'opened' | 'reopened' | 'closed' | undefined;

/** The breakers of every provider, over a store. Core: no AWS, no clock of its own. */
export class ProviderBreakers {
  constructor(
    private readonly store: BreakerStore,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
    /** How long a probe holds the half-open state: the longest one attempt can take. */
    private readonly probeLeaseMs: number,
  ) {}

  /** undefined: skip the provider (its breaker is open, or another relay is probing it). */
  async admit(provider: string): Promise<Pass | undefined> {
    const state = await this.store.read(provider);
    const now = this.clock.now();
    const decision = admission(state, now);
    if (decision === 'skip') return undefined;
    if (decision === 'allow') return { admission: 'allow', generation: state.generation };
    const taken = await this.store.takeProbe(provider, now, now + this.probeLeaseMs);
    return taken ? { admission: 'probe', generation: state.generation } : undefined;
  }

  /** Reports an attempt: healthy when the provider answered for the mail (sent, or refused the message itself). */
  async report(provider: string, pass: Pass, healthy: boolean): Promise<BreakerChange> {
    const now = this.clock.now();
    if (pass.admission === 'probe') {
      if (healthy) return (await this.store.close(provider, pass.generation)) ? 'closed' : undefined;
      const reopened = await this.store.open(
        provider,
        { state: 'half-open', generation: pass.generation },
        now,
        now + this.config.openSeconds * 1000,
      );
      return reopened ? 'reopened' : undefined;
    }
    const start = windowStart(now, this.config);
    const counts = await this.store.count(
      provider,
      { generation: pass.generation, start },
      !healthy,
      // A window is read only while it is current; keep it a little longer than that.
      start + 2 * this.config.windowSeconds * 1000,
    );
    if (healthy || !trips(counts, this.config)) return undefined;
    const opened = await this.store.open(
      provider,
      { state: 'closed', generation: pass.generation },
      now,
      now + this.config.openSeconds * 1000,
    );
    return opened ? 'opened' : undefined;
  }
}
