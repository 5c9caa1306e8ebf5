import { describe, expect, it } from 'vitest';
import type { ReceivedRequest } from '../../chaos/fault-webhooks';
import type { Submission } from '../../chaos/submissions';
import { expectedEvents, judgeWebhooks, type WebhookDeadLetter } from '../../chaos/webhooks';

const form: Submission = { index: 0, kind: 'form', marker: 'm0', status: 202, id: 'f1' };
const api: Submission = { index: 1, kind: 'api', marker: 'm1', status: 202, id: 'a1' };

function request(
  endpointId: string,
  type: string,
  subject: string,
  webhookId: string,
  answer: ReceivedRequest['answer'] = 204,
): ReceivedRequest {
  const data = type === 'submission.received' ? { submissionId: subject } : { messageId: subject };
  return { endpointId, at: 0, webhookId, verified: { type, data }, answer };
}

/** Every expected event delivered once, under its own webhook-id. */
function allDelivered(): ReceivedRequest[] {
  return expectedEvents([form, api]).map((event) =>
    request(
      event.endpointId,
      event.type,
      event.subject,
      `msg_${event.endpointId}_${event.type}_${event.subject}`,
    ),
  );
}

function letter(
  endpointId: string,
  type: string,
  subject: string,
  id: string,
  reason?: string,
): WebhookDeadLetter {
  const data = type === 'submission.received' ? { submissionId: subject } : { messageId: subject };
  return { body: JSON.stringify({ v: 1, id, endpointId, type, data }), reason };
}

function judge(received: ReceivedRequest[], deadLetters: WebhookDeadLetter[] = []) {
  return judgeWebhooks({
    seed: 1,
    submissions: [form, api],
    expected: expectedEvents([form, api]),
    received,
    deadLetters,
    leftInQueue: 0,
    kills: 1,
    faults: { serverErrors: 0, stalls: 0, resets: 0, gone: 0 },
    observations: { outcomes: {}, trouble: [] },
    durationMs: 1,
  });
}

describe('Chaos: judging a webhook run from what the receiver verified and the dead-letter queue', () => {
  it('expects submission.received and email.sent of a form post, email.sent of an API send, per endpoint', () => {
    expect(expectedEvents([form, api])).toHaveLength(6);
  });

  it('passes a run where every event arrived, some more than once under the same webhook-id', () => {
    const received = allDelivered();
    const first = received[0] as ReceivedRequest;
    const report = judge([{ ...first, answer: 'stall' }, ...received, first]);
    expect(report.delivered).toBe(6);
    expect(report.duplicates).toBe(1);
    expect(report.ok).toBe(true);
  });

  it('counts an event dead-lettered with its reason, and fails one dead-lettered without a reason', () => {
    const received = allDelivered().filter(
      (r) => r.endpointId !== 'gone' || r.verified?.type !== 'email.sent',
    );
    const withReason = judge(received, [
      letter('gone', 'email.sent', 'f1', 'msg_gone_email.sent_f1', 'the endpoint answered 410 Gone'),
      letter('gone', 'email.sent', 'a1', 'msg_gone_email.sent_a1', '4 attempts failed; the last: reset'),
    ]);
    expect(withReason.deadLettered).toBe(2);
    expect(withReason.ok).toBe(true);
    const withoutReason = judge(received, [
      letter('gone', 'email.sent', 'f1', 'msg_gone_email.sent_f1', 'the endpoint answered 410 Gone'),
      letter('gone', 'email.sent', 'a1', 'msg_gone_email.sent_a1'),
    ]);
    expect(withoutReason.lost).toBe(1);
    expect(withoutReason.ok).toBe(false);
  });

  it('fails a run where an event is neither delivered nor dead-lettered', () => {
    const report = judge(allDelivered().slice(1));
    expect(report.lost).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('does not count an answer other than 2xx as delivered', () => {
    const received = allDelivered();
    const report = judge([{ ...(received[0] as ReceivedRequest), answer: 503 }, ...received.slice(1)]);
    expect(report.lost).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('fails an event that arrived under two webhook-ids', () => {
    const received = allDelivered();
    const report = judge([...received, { ...(received[0] as ReceivedRequest), webhookId: 'msg_other' }]);
    expect(report.unexplainedDuplicates).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('fails a request that did not verify, and a delivery no submission produced', () => {
    const received = allDelivered();
    expect(judge([...received, { ...(received[0] as ReceivedRequest), verified: undefined }]).ok).toBe(false);
    const unknown = judge([...received, request('flaky', 'email.sent', 'zz', 'msg_zz')]);
    expect(unknown.unknownDeliveries).toBe(1);
    expect(unknown.ok).toBe(false);
  });
});
