import { describe, expect, it, onTestFailed } from 'vitest';
import { type ChaosTimers, formatReport, runChaos } from '../../chaos/harness';
import { formatScheduledReport, runScheduledChaos } from '../../chaos/scheduled';
import { formatWebhookReport, runWebhookChaos } from '../../chaos/webhooks';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';

/**
 * The shortest timers the config allows, each a second past the one before: the relay timeout at its minimum
 * (5 s), the claim lease past it, the visibility timeout past the lease. The jobs a killed relay held come
 * back 7 s after their receive instead of `npm run chaos`'s 10 s, and each scenario waits on them.
 */
const TIMERS: ChaosTimers = { relayTimeoutSeconds: 5, claimLeaseSeconds: 6, visibilitySeconds: 7 };

describe('Chaos: accepted mail is delivered exactly once while the relay is killed and the provider fails', () => {
  it('delivers 60 submissions once each through a faulty SMTP relay across 2 SIGKILLs of the relay', async () => {
    // Prepare / Act: contact forms and API sends at 10/s; 15% of the SMTP sessions meet 421/451/454, a
    // dropped connection or a stall; one API send in five goes to a recipient the relay refuses with 550.
    const report = await runChaos({
      provider: 'smtp',
      messages: 60,
      ratePerSecond: 10,
      kills: 2,
      rejectEvery: 5,
      faultRate: 0.15,
      seed: 20_261_128,
      // The drain ends as soon as every job is settled; the deadline only bounds a failing run.
      drainTimeoutMs: 45_000,
      configFile: FIXTURE_CONFIG_FILE,
      timers: TIMERS,
    });
    // A failed count says little alone: the report names the jobs and the reasons.
    onTestFailed(() => console.error(formatReport(report)));

    // Assess: counted from the mail the peer holds and the dead-letter queue.
    expect(report.notes).toEqual([]);
    expect(report.kills).toBe(2);
    expect(report.accepted).toBe(60);
    expect(report.lost).toBe(0);
    expect(report.unexplainedDuplicates).toBe(0);
    expect(report.unknownDeliveries).toBe(0);
    expect(report.unexpectedDeadLetters).toBe(0);
    expect(report.leftInQueue).toBe(0);
    expect(report.deadLettered).toBe(6);
    // Refused at RCPT TO, and the job's only recipient: the mail went to nobody.
    expect(
      Object.keys(report.deadLetterReasons).every((reason) =>
        reason.startsWith('every recipient was refused: 550 '),
      ),
    ).toBe(true);
    expect(report.delivered + report.deadLettered).toBe(report.accepted);
    // The faults did happen, and the relay retried through them.
    expect(report.faults.transient + report.faults.dropped + report.faults.stalled).toBeGreaterThan(0);
    expect(report.retries).toBeGreaterThan(0);
    expect(report.ok).toBe(true);
  }, 120_000);

  it('delivers every webhook event (verified) or dead-letters it with its reason across 2 SIGKILLs of the dispatcher', async () => {
    // Prepare / Act: 30 submissions at 10/s (forms and API sends: 90 events for 2 endpoints); endpoint flaky
    // answers 30% of requests with a 500/503, a stall past the dispatcher's timeout or a reset connection;
    // endpoint gone answers 410 for a stretch of the run (which disables it) until it is enabled again.
    const report = await runWebhookChaos({
      submissions: 30,
      ratePerSecond: 10,
      kills: 2,
      faultRate: 0.3,
      seed: 20_261_203,
      drainTimeoutMs: 45_000,
      configFile: FIXTURE_CONFIG_FILE,
    });
    onTestFailed(() => console.error(formatWebhookReport(report)));

    // Assess: counted from the requests the receiver verified and the webhooks dead-letter queue.
    expect(report.notes).toEqual([]);
    expect(report.kills).toBe(2);
    expect(report.accepted).toBe(30);
    expect(report.events).toBe(90);
    expect(report.lost).toBe(0);
    expect(report.unverified).toBe(0);
    expect(report.unexplainedDuplicates).toBe(0);
    expect(report.unknownDeliveries).toBe(0);
    expect(report.leftInQueue).toBe(0);
    expect(report.delivered + report.deadLettered).toBe(report.events);
    // 410 was answered. Whether the dispatcher took it (disabling the endpoint) or timed out first depends on
    // the machine's load; either way its events are delivered later or dead-lettered with their reason.
    expect(report.faults.gone).toBeGreaterThanOrEqual(1);
    // The faults did happen, and the dispatcher retried through them.
    expect(report.faults.serverErrors + report.faults.stalls + report.faults.resets).toBeGreaterThan(0);
    expect(report.outcomes.retry).toBeGreaterThan(0);
    expect(report.ok).toBe(true);
  }, 120_000);

  it('sends each scheduled mail once, at or after its time, and no canceled one, across 2 SIGKILLs of the relay', async () => {
    // Prepare / Act: 20 mails scheduled 2 to 4 s ahead through the SQS delay (the AWS path), one in four
    // canceled at a random moment up to a second after its time; 15% of SMTP sessions meet a fault.
    const report = await runScheduledChaos({
      messages: 20,
      ratePerSecond: 10,
      aheadSeconds: [2, 4],
      cancelEvery: 4,
      kills: 2,
      faultRate: 0.15,
      path: 'queue-delay',
      seed: 20_261_203,
      drainTimeoutMs: 45_000,
      configFile: FIXTURE_CONFIG_FILE,
      timers: TIMERS,
    });
    onTestFailed(() => console.error(formatScheduledReport(report)));

    // Assess: counted from the mail the SMTP peer holds, with the time it took each.
    expect(report.notes).toEqual([]);
    expect(report.kills).toBe(2);
    // A request that reaches the API more than 5 s after its time is refused as past (a busy machine).
    expect(report.accepted + report.refusedAsPast).toBe(20);
    expect(report.canceled).toBeGreaterThan(0);
    expect(report.canceledButSent).toBe(0);
    expect(report.sent).toBe(report.accepted - report.canceled);
    expect(report.early).toBe(0);
    expect(report.lost).toBe(0);
    expect(report.unexplainedDuplicates).toBe(0);
    expect(report.leftInQueue).toBe(0);
    expect(report.ok).toBe(true);
  }, 120_000);
});
