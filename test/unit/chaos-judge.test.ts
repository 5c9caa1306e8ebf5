import { describe, expect, it } from 'vitest';
import { type ChaosOptions, ChaosTimersError, chaosConfigInput, judge } from '../../chaos/harness';
import type { Submission } from '../../chaos/submissions';
import type { Generation } from '../../chaos/worker-process';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';

const options: ChaosOptions = {
  provider: 'smtp',
  messages: 3,
  ratePerSecond: 1,
  kills: 1,
  rejectEvery: 0,
  faultRate: 0,
  seed: 1,
  drainTimeoutMs: 0,
};

const accepted = (id: string, kind: Submission['kind'] = 'form'): Submission => ({
  index: 0,
  kind,
  marker: id,
  status: 202,
  id,
});

// Relay process 1 ran from 0 to 1000 and was killed; process 2 ran from 1000 on.
function generations(completedByFirst: string[] = []): Generation[] {
  return [
    { number: 1, startedAt: 0, endedAt: 1000, killed: true, completed: new Set(completedByFirst) },
    { number: 2, startedAt: 1000, endedAt: undefined, killed: false, completed: new Set() },
  ];
}

function evidence(overrides: Partial<Parameters<typeof judge>[0]>): Parameters<typeof judge>[0] {
  return {
    options,
    submissions: [accepted('a'), accepted('b')],
    delivered: [
      { jobId: 'a', at: 10 },
      { jobId: 'b', at: 20 },
    ],
    deadLetters: [],
    generations: generations(['a', 'b']),
    leftInQueue: 0,
    retries: 0,
    kills: 1,
    faults: { transient: 0, dropped: 0, stalled: 0, rejected: 0 },
    windowsMs: [],
    trouble: [],
    durationMs: 1,
    ...overrides,
  };
}

describe('Chaos: judging a run from the delivered mail', () => {
  it('passes a run where every accepted job arrived once', () => {
    expect(judge(evidence({})).ok).toBe(true);
  });

  it('fails a run where an accepted job is neither delivered nor dead-lettered', () => {
    const report = judge(evidence({ delivered: [{ jobId: 'a', at: 10 }] }));
    expect(report.lost).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('counts a second copy as the crash window when the killed relay never recorded the job as sent', () => {
    const report = judge(
      evidence({
        delivered: [
          { jobId: 'a', at: 900 },
          { jobId: 'a', at: 9000 },
          { jobId: 'b', at: 20 },
        ],
        generations: generations(['b']),
      }),
    );
    expect(report.explainedDuplicates).toBe(1);
    expect(report.unexplainedDuplicates).toBe(0);
    expect(report.ok).toBe(true);
  });

  it('fails a second copy of a job that its relay had recorded as sent', () => {
    const report = judge(
      evidence({
        delivered: [
          { jobId: 'a', at: 900 },
          { jobId: 'a', at: 9000 },
          { jobId: 'b', at: 20 },
        ],
      }),
    );
    expect(report.unexplainedDuplicates).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('fails a second copy sent by a relay that was not killed', () => {
    const report = judge(
      evidence({
        delivered: [
          { jobId: 'a', at: 2000 },
          { jobId: 'a', at: 3000 },
          { jobId: 'b', at: 20 },
        ],
      }),
    );
    expect(report.unexplainedDuplicates).toBe(1);
  });

  it('counts a second copy after an attempt whose outcome the relay could not know as the ambiguous window', () => {
    const twice = [
      { jobId: 'a', at: 2000 },
      { jobId: 'a', at: 3000 },
      { jobId: 'b', at: 20 },
    ];
    const report = judge(evidence({ delivered: twice, uncertainJobs: new Set(['a']) }));
    expect(report.ambiguousDuplicates).toBe(1);
    expect(report.unexplainedDuplicates).toBe(0);
    expect(report.ok).toBe(true);
    // Another job's uncertain attempt explains nothing.
    const other = judge(evidence({ delivered: twice, uncertainJobs: new Set(['b']) }));
    expect(other.unexplainedDuplicates).toBe(1);
    expect(other.ok).toBe(false);
  });

  it('accepts a permanent rejection only on the dead-letter queue with its reason', () => {
    const submissions = [accepted('a'), accepted('b'), accepted('r', 'api-rejected')];
    expect(
      judge(evidence({ submissions, deadLetters: [{ jobId: 'r', reason: 'smtp 550: mailbox unavailable' }] }))
        .deadLettered,
    ).toBe(1);
    const withoutReason = judge(evidence({ submissions, deadLetters: [{ jobId: 'r', reason: undefined }] }));
    expect(withoutReason.lost).toBe(1);
    expect(withoutReason.ok).toBe(false);
  });

  it('fails mail delivered with an id no submission was given', () => {
    const report = judge(evidence({ delivered: [...evidence({}).delivered, { jobId: 'z', at: 5 }] }));
    expect(report.unknownDeliveries).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('fails a run that leaves mail on the queue', () => {
    expect(judge(evidence({ leftInQueue: 1 })).ok).toBe(false);
  });
});

describe("Chaos: the timers that bring a killed relay's work back", () => {
  it('puts the relay timeout, the claim lease and the visibility timeout it is given in the run', () => {
    // Act
    const input = chaosConfigInput({ kind: 'ses' }, FIXTURE_CONFIG_FILE, {
      relayTimeoutSeconds: 5,
      claimLeaseSeconds: 6,
      visibilitySeconds: 7,
    });

    // Assess
    expect(input.relay).toMatchObject({ timeoutSeconds: 5, claimLeaseSeconds: 6 });
  });

  it('refuses a visibility timeout no longer than the lease: the redelivered job would find the claim held', () => {
    expect(() =>
      chaosConfigInput({ kind: 'ses' }, FIXTURE_CONFIG_FILE, {
        relayTimeoutSeconds: 5,
        claimLeaseSeconds: 7,
        visibilitySeconds: 7,
      }),
    ).toThrow(ChaosTimersError);
  });

  it('refuses a lease no longer than the relay timeout', () => {
    expect(() =>
      chaosConfigInput({ kind: 'ses' }, FIXTURE_CONFIG_FILE, {
        relayTimeoutSeconds: 5,
        claimLeaseSeconds: 5,
        visibilitySeconds: 7,
      }),
    ).toThrow('relay timeout 5 s < claim lease 5 s < visibility 7 s');
  });
});
