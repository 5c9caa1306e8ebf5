import { describe, expect, it } from 'vitest';
import { judgeScheduled, type ScheduledMail } from '../../chaos/scheduled';
import type { Generation } from '../../chaos/worker-process';

// Relay process 1 ran from 0 to 5000 and was killed; process 2 ran from 5000 on.
const generations: Generation[] = [
  { number: 1, startedAt: 0, endedAt: 5000, killed: true, completed: new Set(['a']) },
  { number: 2, startedAt: 5000, endedAt: undefined, killed: false, completed: new Set() },
];

const mail = (id: string, atMs: number, cancelStatus?: number): ScheduledMail => ({
  index: 0,
  atMs,
  status: 202,
  id,
  ...(cancelStatus === undefined ? {} : { cancelStatus }),
});

function judge(
  mails: ScheduledMail[],
  delivered: Array<{ jobId: string; at: number }>,
  deadLetterIds: string[] = [],
) {
  return judgeScheduled({
    options: { path: 'queue-delay', seed: 1 },
    mails,
    delivered,
    deadLetterIds,
    generations,
    leftInQueue: 0,
    kills: 1,
    faults: { transient: 0, dropped: 0, stalled: 0, rejected: 0 },
    trouble: [],
    durationMs: 1,
  });
}

describe('Chaos: judging a scheduled-send run from the mail the provider took, and when', () => {
  it('passes a run where each mail went once after its time and the canceled one never went', () => {
    const report = judge(
      [mail('a', 1000), mail('b', 2000, 409), mail('c', 3000, 200)],
      [
        { jobId: 'a', at: 1200 },
        { jobId: 'b', at: 2500 },
      ],
    );
    expect(report).toMatchObject({ sent: 2, canceled: 1, cancelTooLate: 1, early: 0, ok: true });
    expect(report.lateMs.max).toBe(500);
  });

  it('fails a mail sent before its time', () => {
    const report = judge([mail('a', 1000)], [{ jobId: 'a', at: 999 }]);
    expect(report.early).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('fails a mail sent after its cancel answered 200', () => {
    const report = judge([mail('a', 1000, 200)], [{ jobId: 'a', at: 1500 }]);
    expect(report.canceledButSent).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('fails a mail whose cancel answered 409 and that never went', () => {
    const report = judge([mail('a', 1000, 409)], []);
    expect(report.lost).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('allows a second copy only from a relay killed before it recorded the send', () => {
    const inWindow = judge(
      [mail('b', 1000)],
      [
        { jobId: 'b', at: 1200 },
        { jobId: 'b', at: 9000 },
      ],
    );
    expect(inWindow).toMatchObject({ explainedDuplicates: 1, unexplainedDuplicates: 0, ok: true });
    const recorded = judge(
      [mail('a', 1000)],
      [
        { jobId: 'a', at: 1200 },
        { jobId: 'a', at: 9000 },
      ],
    );
    expect(recorded).toMatchObject({ unexplainedDuplicates: 1, ok: false });
  });

  it('takes a 422 for a request that reached the API after its time as the rule it is, and fails any other refusal', () => {
    const late: ScheduledMail = { index: 1, atMs: 1000, status: 422, pastAtArrival: true };
    expect(judge([mail('a', 1000), late], [{ jobId: 'a', at: 1200 }])).toMatchObject({
      refusedAsPast: 1,
      ok: true,
    });
    const failed: ScheduledMail = { index: 1, atMs: 1000, status: 503 };
    expect(judge([mail('a', 1000), failed], [{ jobId: 'a', at: 1200 }]).ok).toBe(false);
  });
});
