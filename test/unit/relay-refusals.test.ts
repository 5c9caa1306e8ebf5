import { describe, expect, it } from 'vitest';
import { RecipientsRefusedError } from '../../functions/core/errors';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import type { OutboundMail, SendReceipt, Transport } from '../../functions/core/ports';
import { type RelayDeps, type RelayRecord, recipientKey, relayBatch } from '../../functions/core/relay/relay';
import { contactJob, JOB_ID, shippedConfig } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryMessageStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
} from '../fakes/ports';

const [A, B, C] = ['alice@example.org', 'bob@example.org', 'carol@example.org'] as const;

/** An SMTP relay's answers by recipient: a reply code refuses at RCPT, absent takes the mail. */
class RcptTransport implements Transport {
  readonly envelopes: string[][] = [];
  constructor(public codes: Record<string, number>) {}

  async send(mail: OutboundMail): Promise<SendReceipt> {
    this.envelopes.push([...mail.to]);
    const refused = mail.to
      .filter((to) => this.codes[to] !== undefined)
      .map((to) => ({
        recipient: to,
        code: this.codes[to] ?? 0,
        reply: `${this.codes[to]} 5.1.1 <${to}>: no`,
      }));
    if (refused.length === mail.to.length) throw new RecipientsRefusedError(refused);
    return { providerMessageId: `250 2.0.0 Ok: queued as Q${this.envelopes.length}`, refused };
  }
}

function setup(transport: Transport) {
  return {
    config: shippedConfig(),
    transport,
    claims: new MemoryClaimStore(),
    queue: new MemoryRelayQueue(),
    clock: new FakeClock(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    messages: new MemoryMessageStore(),
    random: () => 0.5,
  } satisfies RelayDeps;
}

function record(receiveCount: number): RelayRecord {
  const { job } = contactJob(undefined, JOB_ID);
  return {
    messageId: 'm1',
    receiptHandle: `rh-${receiveCount}`,
    body: serializeMailJob({ ...job, to: [A, B, C] }),
    receiveCount,
  };
}

describe('Core: relayBatch with recipients refused at RCPT', () => {
  it('retries a recipient refused for now alone, after recording each refusal masked', async () => {
    // Prepare
    const transport = new RcptTransport({ [B]: 451, [C]: 550 });
    const deps = setup(transport);

    // Act
    const first = await relayBatch([record(1)], deps);
    transport.codes = { [C]: 550 };
    const second = await relayBatch([record(2)], deps);

    // Assess
    expect(first.outcomes[0]?.outcome).toBe('retry');
    expect(second.outcomes[0]?.outcome).toBe('sent');
    expect(transport.envelopes).toEqual([[A, B, C], [B]]);
    expect(deps.claims.records.get(JOB_ID)).toMatchObject({
      state: 'sent',
      providerMessageId: '250 2.0.0 Ok: queued as Q2',
      delivered: [recipientKey(A)],
      refused: [recipientKey(C)],
    });
    const history = (await deps.messages.get(JOB_ID))?.history ?? [];
    expect(history.find((change) => change.status === 'queued')?.refused).toEqual([
      { recipient: 'b***@example.org', reply: '451 5.1.1 <***@example.org>: no' },
      { recipient: 'c***@example.org', reply: '550 5.1.1 <***@example.org>: no' },
    ]);
    expect(history.find((change) => change.status === 'sent')?.detail).toBe('250 2.0.0 Ok: queued as Q2');
    expect(deps.metrics.dimensioned.get('RecipientRefused{kind=transient}')).toBe(1);
    expect(deps.metrics.dimensioned.get('RecipientRefused{kind=permanent}')).toBe(1);
  });

  it('marks a mail sent with its refusals when the others took it and none may pass later', async () => {
    const transport = new RcptTransport({ [C]: 550 });
    const deps = setup(transport);

    const result = await relayBatch([record(1)], deps);

    expect(result.outcomes[0]?.outcome).toBe('sent');
    const sent = (await deps.messages.get(JOB_ID))?.history.find((change) => change.status === 'sent');
    expect(sent).toMatchObject({
      detail: '250 2.0.0 Ok: queued as Q1',
      refused: [{ recipient: 'c***@example.org', reply: '550 5.1.1 <***@example.org>: no' }],
    });
  });

  it('dead-letters when a recipient is still refused after maxReceiveCount; a redrive sends to it alone', async () => {
    const transport = new RcptTransport({ [B]: 451 });
    const deps = setup(transport);
    const last = deps.config.queue.maxReceiveCount;

    await relayBatch([record(1)], deps);
    const exhausted = await relayBatch([record(last)], deps);
    transport.codes = {};
    const redriven = await relayBatch([record(1)], deps);

    expect(exhausted.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(deps.queue.deadLetters[0]?.reason).toMatch(
      new RegExp(`^retries exhausted after ${last} attempts: 1 of 1 recipients refused for now: 451 `),
    );
    expect(redriven.outcomes[0]?.outcome).toBe('sent');
    expect(transport.envelopes).toEqual([[A, B, C], [B], [B]]);
  });

  it('fails a mail whose every recipient is refused for good', async () => {
    const deps = setup(new RcptTransport({ [A]: 550, [B]: 550, [C]: 554 }));

    const result = await relayBatch([record(1)], deps);

    expect(result.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(deps.queue.deadLetters[0]?.reason).toBe(
      'every recipient was refused: 550 5.1.1 <***@example.org>: no',
    );
    expect((await deps.messages.get(JOB_ID))?.status).toBe('failed');
    expect(deps.metrics.dimensioned.get('MailFailed{reason=permanent-rejection}')).toBe(1);
  });

  it('dead-letters the redelivery of an all-refused mail with the first reason when the relay was killed before deleting it', async () => {
    const transport = new RcptTransport({ [A]: 550, [B]: 550, [C]: 554 });
    const deps = setup(transport);
    await relayBatch([record(1)], deps);

    // The queue gives the message again: the claim says every recipient was refused for good.
    const again = await relayBatch([record(2)], deps);

    expect(again.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(transport.envelopes).toEqual([[A, B, C]]);
    expect(deps.queue.deadLetters.map((letter) => letter.reason)).toEqual([
      'every recipient was refused: 550 5.1.1 <***@example.org>: no',
      'every recipient was refused: 550 5.1.1 <***@example.org>: no',
    ]);
  });

  it.each([
    ['starttls', { code: 'ETLS', responseCode: 502, response: '502 5.5.1 Error: command not implemented' }],
    ['auth', { code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Error: authentication failed' }],
  ])('retries a mail whose SMTP session failed at %s, and counts it for the alarm', async (stage, shape) => {
    const failing: Transport = {
      send: async () => {
        throw Object.assign(new Error('session failed'), shape);
      },
    };
    const deps = setup(failing);

    const result = await relayBatch([record(1)], deps);

    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.queue.deadLetters).toEqual([]);
    expect(deps.metrics.dimensioned.get(`RelaySessionFailed{stage=${stage}}`)).toBe(1);
  });
});
