import { describe, expect, it } from 'vitest';
import type { BreakerConfig } from '../../functions/core/config/config';
import { admission, ProviderBreakers, trips, windowStart } from '../../functions/core/failover/breaker';
import type { Provider } from '../../functions/core/failover/failover';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { type RelayDeps, type RelayRecord, relayBatch } from '../../functions/core/relay/relay';
import { MemoryBreakerStore } from '../fakes/breaker-store';
import { configWith, contactJob, JOB_ID } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryMessageStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';

const BREAKER: BreakerConfig = { minRequests: 4, failureRate: 0.5, windowSeconds: 60, openSeconds: 30 };

const sesError = (name: string, message: string, status: number) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
const throttled = () => sesError('TooManyRequestsException', 'Maximum sending rate exceeded.', 429);
const paused = () => sesError('SendingPausedException', 'Sending is paused for this account.', 400);
const rejected = () => sesError('MessageRejected', 'Email address is on the account suppression list.', 400);
const smtpError = (phase: string, fields: Record<string, unknown>) =>
  Object.assign(new Error('smtp failure'), { smtpPhase: phase }, fields);

function setup(options: { breakers?: boolean } = {}) {
  const config = configWith({
    transport: undefined,
    transports: [{ kind: 'ses' }, { kind: 'smtp', host: 'smtp.example.net' }],
    breaker: BREAKER,
  });
  const ses = new ScriptedTransport();
  const smtp = new ScriptedTransport();
  const clock = new FakeClock();
  const store = new MemoryBreakerStore();
  const providers: Provider[] = [
    { id: 'ses', kind: 'ses', transport: ses },
    { id: 'smtp', kind: 'smtp', transport: smtp },
  ];
  const deps = {
    config,
    providers,
    ...(options.breakers ? { breakers: new ProviderBreakers(store, BREAKER, clock, 10_000) } : {}),
    claims: new MemoryClaimStore(),
    queue: new MemoryRelayQueue(),
    messages: new MemoryMessageStore(),
    clock,
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    random: () => 0.5,
  } satisfies RelayDeps;
  return { deps, ses, smtp, store, clock };
}

function record(receiveCount = 1, id = JOB_ID): RelayRecord {
  return {
    messageId: `m-${id.slice(0, 8)}-${receiveCount}`,
    receiptHandle: `rh-${id}-${receiveCount}`,
    body: serializeMailJob(contactJob(undefined, id).job),
    receiveCount,
  };
}

function jobId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

describe('Core: relayBatch with failover', () => {
  it('tries the next provider at once, in the same job, when the first certainly did not take the mail', async () => {
    // Prepare
    const { deps, ses, smtp } = setup();
    ses.failNext(throttled());

    // Act
    const result = await relayBatch([record()], deps);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('sent');
    expect(ses.sent).toHaveLength(0);
    expect(smtp.sent).toHaveLength(1);
    expect(deps.queue.retries).toEqual([]);
    expect(deps.metrics.byDimension()).toEqual({ 'FailedOver{provider=ses}': 1 });
    const history = (await deps.messages.get(JOB_ID))?.history ?? [];
    // A first attempt writes no `sending` of its own (docs/cost.md): the hop's entry is the first after
    // `queued` (written by the send function, not here).
    expect(history.map((h) => [h.status, h.provider])).toEqual([
      ['sending', 'ses'],
      ['sent', 'smtp'],
    ]);
    expect(history[0]?.detail).toMatch(/^ses not-accepted: ses TooManyRequestsException.*; trying smtp$/);
  });

  it("on a retry, the attempt's `sending` comes before the hop's", async () => {
    const { deps, ses } = setup();
    ses.failNext(throttled());

    await relayBatch([record(2)], deps);

    const history = (await deps.messages.get(JOB_ID))?.history ?? [];
    expect(history.map((h) => [h.status, h.provider, h.detail?.slice(0, 16)])).toEqual([
      ['sending', undefined, 'attempt 2'],
      ['sending', 'ses', 'ses not-accepted'],
      ['sent', 'smtp', expect.any(String)],
    ]);
  });

  it('fails over on an account error and says so in an error line and ProviderAccountError', async () => {
    const { deps, ses, smtp } = setup();
    ses.failNext(paused());

    await relayBatch([record()], deps);

    expect(smtp.sent).toHaveLength(1);
    expect(deps.metrics.byDimension()).toEqual({
      'FailedOver{provider=ses}': 1,
      'ProviderAccountError{provider=ses}': 1,
    });
    expect(deps.log.entries.find((e) => e.level === 'error')?.attributes).toMatchObject({
      provider: 'ses',
      jobId: JOB_ID,
    });
  });

  it('does not fail over a message the provider refused: it fails with the reason', async () => {
    const { deps, ses, smtp } = setup();
    ses.failNext(rejected());

    const result = await relayBatch([record()], deps);

    expect(result.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(smtp.attempts).toHaveLength(0);
    expect(deps.queue.deadLetters[0]?.reason).toBe(
      'ses MessageRejected: Email address is on the account suppression list.',
    );
    const history = (await deps.messages.get(JOB_ID))?.history ?? [];
    expect(history.at(-1)).toMatchObject({ status: 'failed', provider: 'ses' });
  });

  it('does not fail over an attempt whose outcome is unknown: it retries later on the same provider only', async () => {
    // Prepare: the SMTP relay (second) dropped the connection after the body; then SES is healthy again
    const { deps, ses, smtp } = setup();
    ses.failNext(throttled());
    smtp.failNext(smtpError('after-body', { code: 'ECONNECTION' }));

    // Act
    const first = await relayBatch([record(1)], deps);
    const second = await relayBatch([record(2)], deps);

    // Assess: the retry went to the SMTP relay, never to SES, which would be a second copy
    expect(first.outcomes[0]?.outcome).toBe('retry');
    expect(deps.claims.records.get(JOB_ID)?.uncertain).toBe('smtp');
    expect(deps.metrics.byDimension()).toMatchObject({ 'UncertainSend{provider=smtp}': 1 });
    expect(second.outcomes[0]?.outcome).toBe('sent');
    expect(ses.attempts).toHaveLength(1);
    expect(ses.sent).toHaveLength(0);
    expect(smtp.attempts).toHaveLength(2);
  });

  it('keeps an uncertain job on its provider even when that provider certainly refuses a later attempt', async () => {
    const { deps, ses, smtp } = setup();
    // SES: the connection reset with the request out (ambiguous); then SES throttles; SMTP is never tried.
    ses.failNext(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), throttled());

    await relayBatch([record(1)], deps);
    const second = await relayBatch([record(2)], deps);

    expect(second.outcomes[0]?.outcome).toBe('retry');
    expect(smtp.attempts).toHaveLength(0);
  });

  it('does not try the next provider when the hop could outlive the claim: retried later, unpinned', async () => {
    // Prepare: SES takes longer than claimLeaseSeconds - timeoutSeconds to refuse
    const { deps, ses, smtp, clock } = setup();
    const lease = deps.config.relay.claimLeaseSeconds - deps.config.relay.timeoutSeconds;
    ses.send = async () => {
      clock.advance(lease * 1000 + 1);
      throw throttled();
    };

    // Act
    const result = await relayBatch([record()], deps);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(smtp.attempts).toHaveLength(0);
    expect(deps.claims.records.get(JOB_ID)?.uncertain).toBeUndefined();
    expect(deps.log.entries.map((e) => e.message)).toContain(
      'no time left in the claim for the next provider; retrying later',
    );
  });

  it('starts no first attempt once the invocation is in its last seconds: retried later, nothing sent', async () => {
    // Prepare: the send rate's pacer holds the job until 1.5 s before the invocation's end
    const { deps, ses, smtp, clock } = setup();
    const endsAtMs = clock.now() + 10_000;
    const paced = {
      ...deps,
      pacer: {
        acquire: async () => {
          clock.advance(8_500);
          return () => {};
        },
      },
    };

    // Act
    const result = await relayBatch([record()], paced, { endsAtMs });

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(ses.attempts).toHaveLength(0);
    expect(smtp.attempts).toHaveLength(0);
    expect(deps.claims.records.get(JOB_ID)?.state).toBe('retry');
    expect(deps.queue.retries).toHaveLength(1);
    const history = deps.messages.records.get(JOB_ID)?.history ?? [];
    expect(history.at(-1)).toMatchObject({ status: 'queued' });
    expect(history.at(-1)?.detail).toMatch(/not started: too little time was left/);
  });

  it('starts no attempt within the last seconds of the invocation, where Lambda would cut it mid-send', async () => {
    // Prepare: the invocation ends 1.5 s from now, inside SEND_START_MARGIN_SECONDS (2)
    const { deps, ses, smtp, clock } = setup();

    // Act
    const late = await relayBatch([record()], deps, { endsAtMs: clock.now() + 1_500 });
    const inTime = await relayBatch([record(2)], deps, { endsAtMs: clock.now() + 2_500 });

    // Assess
    expect(late.outcomes[0]?.outcome).toBe('retry');
    expect(inTime.outcomes[0]?.outcome).toBe('sent');
    expect(ses.sent).toHaveLength(1);
    expect(smtp.attempts).toHaveLength(0);
  });

  it('retries later, without failover, when every provider certainly did not take the mail', async () => {
    const { deps, ses, smtp } = setup();
    ses.failNext(throttled());
    smtp.failNext(smtpError('connect', { code: 'ECONNECTION' }));

    const result = await relayBatch([record()], deps);

    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.claims.records.get(JOB_ID)?.uncertain).toBeUndefined();
    expect(deps.metrics.byDimension()).toEqual({ 'FailedOver{provider=ses}': 1 });
  });
});

describe('Core: the shared circuit breaker', () => {
  it('decides from the state alone', () => {
    expect(admission({ state: 'closed', generation: 0 }, 5)).toBe('allow');
    expect(admission({ state: 'open', generation: 0, openedAt: 0, openUntil: 10 }, 5)).toBe('skip');
    expect(admission({ state: 'open', generation: 0, openedAt: 0, openUntil: 10 }, 10)).toBe('probe');
    expect(admission({ state: 'half-open', generation: 0, probeUntil: 10 }, 5)).toBe('skip');
    expect(admission({ state: 'half-open', generation: 0, probeUntil: 10 }, 11)).toBe('probe');
    expect(windowStart(125_000, BREAKER)).toBe(120_000);
    expect(trips({ requests: 3, failures: 3 }, BREAKER)).toBe(false);
    expect(trips({ requests: 4, failures: 2 }, BREAKER)).toBe(true);
    expect(trips({ requests: 4, failures: 1 }, BREAKER)).toBe(false);
  });

  it('opens on a flapping provider, moves traffic to the next, and closes after one successful probe', async () => {
    // Prepare: SES fails 4 of the first 4 sends
    const { deps, ses, smtp, store, clock } = setup({ breakers: true });
    ses.failNext(throttled(), throttled(), throttled(), throttled());

    // Act 1: four jobs fail over; the fourth failure opens the breaker
    for (let n = 1; n <= 4; n += 1) await relayBatch([record(1, jobId(n))], deps);

    // Assess 1
    expect(smtp.sent).toHaveLength(4);
    expect((await store.read('ses')).state).toBe('open');
    expect(deps.metrics.byDimension()).toMatchObject({
      'BreakerOpen{provider=ses}': 1,
      'FailedOver{provider=ses}': 4,
    });

    // Act 2: while open, SES is not even tried
    await relayBatch([record(1, jobId(5))], deps);
    expect(ses.attempts).toHaveLength(4);
    expect(smtp.sent).toHaveLength(5);

    // Act 3: after openSeconds one probe goes to SES; it succeeds and the breaker closes
    clock.advance(BREAKER.openSeconds * 1000);
    await relayBatch([record(1, jobId(6))], deps);
    expect(ses.sent).toHaveLength(1);
    expect(await store.read('ses')).toEqual({ state: 'closed', generation: 1 });
    await relayBatch([record(1, jobId(7))], deps);
    expect(ses.sent).toHaveLength(2);
    expect(smtp.sent).toHaveLength(5);
  });

  it('gives the probe to one relay only, and reopens when the probe fails', async () => {
    const { store, clock } = setup();
    const breakers = new ProviderBreakers(store, BREAKER, clock, 10_000);
    store.states.set('ses', { state: 'open', generation: 0, openedAt: clock.now(), openUntil: clock.now() });

    const [a, b] = await Promise.all([breakers.admit('ses'), breakers.admit('ses')]);

    expect([a?.admission, b?.admission].filter(Boolean)).toEqual(['probe']);
    const probe = a ?? b;
    if (!probe) throw new Error('no probe');
    expect(await breakers.report('ses', probe, false)).toBe('reopened');
    expect((await store.read('ses')).state).toBe('open');
    expect(await breakers.admit('ses')).toBeUndefined();
  });

  it('skips a provider while another relay holds the probe, and takes it over when that lease ran out', async () => {
    const { store, clock } = setup();
    const breakers = new ProviderBreakers(store, BREAKER, clock, 10_000);
    store.states.set('ses', { state: 'half-open', generation: 0, probeUntil: clock.now() + 10_000 });

    expect(await breakers.admit('ses')).toBeUndefined();
    clock.advance(10_000);
    expect((await breakers.admit('ses'))?.admission).toBe('probe');
  });

  it('retries later when every breaker is open, sending nothing', async () => {
    const { deps, ses, smtp, store, clock } = setup({ breakers: true });
    for (const id of ['ses', 'smtp'])
      store.states.set(id, {
        state: 'open',
        generation: 0,
        openedAt: clock.now(),
        openUntil: clock.now() + 30_000,
      });

    const result = await relayBatch([record()], deps);

    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(ses.attempts.length + smtp.attempts.length).toBe(0);
    expect(deps.queue.retries).toHaveLength(1);
  });
});
