import type { Clock } from '../ports';

/**
 * Keeps sends within a provider's maximum send rate. SES counts its maximum send rate per second and
 * throttles above it (TooManyRequestsException on SES v2):
 * https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html
 *
 * Two rules, for `ratePerSecond` R:
 * - sends are due `windowMs / R` apart, so a backlog does not reach the provider as one burst (a timer that
 *   fires late delays that send, not every later one);
 * - a send starts no earlier than `windowMs` after the send R places before it finished. A send has
 *   certainly reached the provider once it has finished, so the provider never sees more than R sends in
 *   any window of `windowMs`, however long each request took on the way. Counting from the start instead
 *   would be faster but not safe: a request delayed on its way (a new connection, a busy event loop) lands
 *   in the next one's second.
 * The price is the provider's response time: a provider answering in L ms gets at most
 * R * windowMs / (windowMs + L) sends a second from one pacer.
 */
export interface SendPacerOptions {
  readonly ratePerSecond: number;
  readonly clock: Clock;
  /** Resolves after `ms`; a fake clock's sleep moves the fake time. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly windowMs?: number;
  /** A send that has not finished after this long is taken to have arrived, so one hung request cannot stop every later send. */
  readonly maxInFlightMs?: number;
}

/** Call when the provider has answered (or the send failed): the send has certainly arrived by then. */
export type SendFinished = () => void;

interface Slot {
  /** When the send was due by the spacing rule (clock ms); a late timer does not move the next one back. */
  readonly due: number;
  /** When the send started (clock ms). */
  readonly started: number;
  /** When the send finished; undefined while in flight. */
  finished: number | undefined;
  readonly whenFinished: Promise<void>;
}

export class SendPacer {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly spacingMs: number;
  /** The latest `limit` sends, oldest first. */
  private readonly recent: Slot[] = [];
  /** Callers wait in line: each acquire starts after the one before it. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: SendPacerOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be greater than 0');
    this.windowMs = options.windowMs ?? 1_000;
    // A fractional rate (a per-invocation share of the stack's rate) still allows one send per window.
    this.limit = Math.max(1, Math.floor(options.ratePerSecond));
    this.spacingMs = this.windowMs / options.ratePerSecond;
  }

  /** Resolves when the caller may send; the caller must call the returned function when the send ends. */
  acquire(): Promise<SendFinished> {
    const turn = this.queue.then(() => this.nextSlot());
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async nextSlot(): Promise<SendFinished> {
    const { clock } = this.options;
    const previous = this.recent.at(-1);
    const due = Math.max(clock.now(), previous === undefined ? 0 : previous.due + this.spacingMs);
    await this.waitUntil(due);
    const displaced = this.recent.length >= this.limit ? this.recent[0] : undefined;
    if (displaced !== undefined) {
      if (displaced.finished === undefined) {
        await Promise.race([
          displaced.whenFinished,
          this.waitUntil(displaced.started + (this.options.maxInFlightMs ?? 10_000)),
        ]);
      }
      await this.waitUntil((displaced.finished ?? clock.now()) + this.windowMs);
    }
    let finish: () => void = () => {};
    const whenFinished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const slot: Slot = { due, started: clock.now(), finished: undefined, whenFinished };
    this.recent.push(slot);
    if (this.recent.length > this.limit) this.recent.shift();
    return () => {
      if (slot.finished !== undefined) return;
      slot.finished = clock.now();
      finish();
    };
  }

  /** Timers may fire a little early: wait until the clock has really reached `at`. */
  private async waitUntil(at: number): Promise<void> {
    for (let wait = at - this.options.clock.now(); wait > 0; wait = at - this.options.clock.now()) {
      await this.options.sleep(Math.ceil(wait));
    }
  }
}

/** A pacer on real timers for `ratePerSecond`, or none when no rate is configured. */
export function pacerForRate(ratePerSecond: number | undefined, clock: Clock): SendPacer | undefined {
  if (ratePerSecond === undefined) return undefined;
  return new SendPacer({
    ratePerSecond,
    clock,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
}
