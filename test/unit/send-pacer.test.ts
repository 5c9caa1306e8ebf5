import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { relayBatch } from '../../functions/core/relay/relay';
import { SendPacer } from '../../functions/core/relay/send-pacer';
import { contactJob, shippedConfig } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';

/** Timers on a fake clock: `run` fires them in time order, moving the clock to each. */
class VirtualTime {
  readonly clock = new FakeClock(0);
  private timers: Array<{ at: number; fire: () => void }> = [];

  readonly sleep = (ms: number) =>
    new Promise<void>((fire) => this.timers.push({ at: this.clock.now() + ms, fire }));

  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const result = work.finally(() => {
      done = true;
    });
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (next === undefined) continue;
      this.clock.advance(Math.max(0, next.at - this.clock.now()));
      next.fire();
    }
    return result;
  }
}

/** The most starts found in any closed window of `windowMs`. */
function busiestWindow(starts: ReadonlyArray<number>, windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] as number) - (sorted[j] as number) > windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * Sends `count` mails through a pacer on virtual time; each caller turns up after `delays[i]` ms and its
 * request takes `transit[i]` ms to reach the provider and `latency` ms more to be answered. Returns when
 * each request reached the provider, sorted.
 */
async function pacedArrivals(
  rate: number,
  count: number,
  options: { delays?: ReadonlyArray<number>; transit?: ReadonlyArray<number>; latency?: number } = {},
): Promise<number[]> {
  const time = new VirtualTime();
  const pacer = new SendPacer({ ratePerSecond: rate, clock: time.clock, sleep: time.sleep });
  const arrivals: number[] = [];
  const work = Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const delay = options.delays?.[i] ?? 0;
      if (delay > 0) await time.sleep(delay);
      const finished = await pacer.acquire();
      const transit = options.transit?.[i] ?? 0;
      if (transit > 0) await time.sleep(transit);
      arrivals.push(time.clock.now());
      if (options.latency) await time.sleep(options.latency);
      finished();
    }),
  );
  await time.run(work);
  return arrivals.sort((a, b) => a - b);
}

describe('Core: SendPacer', () => {
  it('spreads concurrent sends evenly instead of letting them go as one burst', async () => {
    // Act
    const arrivals = await pacedArrivals(5, 5);

    // Assess
    expect(arrivals).toEqual([0, 200, 400, 600, 800]);
  });

  it('starts the send R places later only a window after the earlier one finished', async () => {
    // Act: each request is answered 50 ms after it arrives.
    const arrivals = await pacedArrivals(2, 4, { latency: 50 });

    // Assess
    expect(arrivals).toEqual([0, 500, 1_050, 1_550]);
  });

  it('never lets the provider see more than R sends in a second, however callers and requests are delayed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 300 })), {
          minLength: 1,
          maxLength: 100,
        }),
        fc.integer({ min: 0, max: 200 }),
        async (rate, callers, latency) => {
          const arrivals = await pacedArrivals(rate, callers.length, {
            delays: callers.map(([delay]) => delay),
            transit: callers.map(([, transit]) => transit),
            latency,
          });
          expect(busiestWindow(arrivals, 999)).toBeLessThanOrEqual(rate);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps a steady backlog at no less than 95% of the rate with a fast provider', async () => {
    // Act: 500 sends at 50/s, each answered in 5 ms.
    const arrivals = await pacedArrivals(50, 500, { latency: 5 });

    // Assess
    const seconds = ((arrivals.at(-1) as number) - (arrivals[0] as number)) / 1000;
    expect(499 / seconds).toBeGreaterThanOrEqual(50 * 0.95);
    expect(499 / seconds).toBeLessThanOrEqual(50);
  });

  it('allows one send per two seconds at half a mail a second', async () => {
    // Act
    const arrivals = await pacedArrivals(0.5, 3);

    // Assess
    expect(arrivals).toEqual([0, 2_000, 4_000]);
  });

  it('takes a send that never finishes as arrived after maxInFlightMs', async () => {
    // Prepare
    const time = new VirtualTime();
    const pacer = new SendPacer({
      ratePerSecond: 1,
      clock: time.clock,
      sleep: time.sleep,
      maxInFlightMs: 5_000,
    });

    // Act: the first caller never reports its send finished.
    const second = await time.run(
      (async () => {
        await pacer.acquire();
        await pacer.acquire();
        return time.clock.now();
      })(),
    );

    // Assess
    expect(second).toBe(6_000);
  });

  it('waits until the clock reaches the slot when a timer fires early', async () => {
    // Prepare: a timer that fires 5 ms before it should.
    const clock = new FakeClock(0);
    const sleeps: number[] = [];
    const pacer = new SendPacer({
      ratePerSecond: 10,
      clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms > 5 ? ms - 5 : ms);
      },
    });

    // Act
    (await pacer.acquire())();
    await pacer.acquire();

    // Assess
    expect(clock.now()).toBe(100);
    expect(sleeps).toEqual([100, 5]);
  });

  it('makes up for a timer that fired late instead of passing the delay on to every later send', async () => {
    // Prepare: every timer fires 15 ms late.
    const clock = new FakeClock(0);
    const pacer = new SendPacer({
      ratePerSecond: 10,
      clock,
      sleep: async (ms) => clock.advance(ms + 15),
    });
    const starts: number[] = [];

    // Act
    for (let i = 0; i < 5; i++) {
      const finished = await pacer.acquire();
      starts.push(clock.now());
      finished();
    }

    // Assess: due at 0, 100, 200, 300, 400; each starts 15 ms late, the lateness does not add up.
    expect(starts).toEqual([0, 115, 215, 315, 415]);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new SendPacer({ ratePerSecond: 0, clock: new FakeClock(), sleep: async () => {} })).toThrow(
      RangeError,
    );
  });
});

describe('Core: relayBatch with a pacer', () => {
  it('sends a batch no faster than the pacer allows, and sends every mail once', async () => {
    // Prepare
    const time = new VirtualTime();
    const sentAt: number[] = [];
    const transport = new ScriptedTransport();
    const send = transport.send.bind(transport);
    transport.send = async (mail) => {
      sentAt.push(time.clock.now());
      return send(mail);
    };
    const ids = Array.from(
      { length: 10 },
      (_, i) => `5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b${String(i).padStart(2, '0')}`,
    );
    const records = ids.map((id, i) => ({
      messageId: `msg-${i}`,
      receiptHandle: `rh-${i}`,
      body: serializeMailJob(contactJob(undefined, id).job),
      receiveCount: 1,
    }));

    // Act
    const result = await time.run(
      relayBatch(records, {
        config: shippedConfig(),
        transport,
        claims: new MemoryClaimStore(),
        queue: new MemoryRelayQueue(),
        clock: time.clock,
        log: new RecordingLog(),
        metrics: new RecordingMetrics(),
        random: () => 0.5,
        pacer: new SendPacer({ ratePerSecond: 4, clock: time.clock, sleep: time.sleep }),
      }),
    );

    // Assess
    expect(result.failures).toEqual([]);
    expect(new Set(transport.sent.map((mail) => mail.jobId))).toEqual(new Set(ids));
    expect(busiestWindow(sentAt, 999)).toBeLessThanOrEqual(4);
    expect(Math.max(...sentAt)).toBe(2_000 + 250);
  });
});
