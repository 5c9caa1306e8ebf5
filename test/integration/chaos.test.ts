import { describe, expect, it } from 'vitest';
import { runChaos } from '../../chaos/harness';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';

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
      drainTimeoutMs: 30_000,
      configFile: FIXTURE_CONFIG_FILE,
    });

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
  }, 60_000);
});
