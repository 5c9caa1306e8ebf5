import { describe, expect, it } from 'vitest';
import {
  effectOf,
  handleDeliveryNotifications,
  parseNotification,
} from '../../functions/core/events/delivery-events';
import { METRIC } from '../../functions/core/metrics';
import { SIMULATOR, sesNotifications } from '../../local/ses-events';
import { MemoryMessageStore, MemorySuppressionList, RecordingLog, RecordingMetrics } from '../fakes/ports';

const JOB = '5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a';

/** The mail object of an SES event-publishing notification, as the SES documentation's examples show it. */
function mail(jobId: string | undefined = JOB) {
  return {
    timestamp: '2025-01-15T12:00:00.000Z',
    source: 'no-reply@example.com',
    sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/example.com',
    sendingAccountId: '123456789012',
    messageId: '0100019466a1b2c3-ses-message-id-000000',
    destination: ['jane.doe@example.org'],
    headersTruncated: false,
    headers: [{ name: 'Subject', value: 'Hello' }],
    commonHeaders: { subject: 'Hello' },
    tags: {
      'ses:configuration-set': ['postroom'],
      ...(jobId === undefined ? {} : { 'postroom-job-id': [jobId] }),
    },
  };
}

const delivery = {
  eventType: 'Delivery',
  mail: mail(),
  delivery: {
    timestamp: '2025-01-15T12:00:01.500Z',
    processingTimeMillis: 1500,
    recipients: ['jane.doe@example.org'],
    smtpResponse: '250 2.6.0 Message received',
    reportingMTA: 'a8-70.smtp-out.amazonses.com',
  },
};

const bounce = (bounceType: string, bounceSubType = 'General') => ({
  eventType: 'Bounce',
  mail: mail(),
  bounce: {
    feedbackId: 'feedback-1',
    bounceType,
    bounceSubType,
    bouncedRecipients: [
      {
        emailAddress: 'Jane.Doe@example.org',
        action: 'failed',
        status: '5.1.1',
        diagnosticCode: 'smtp; 550',
      },
    ],
    timestamp: '2025-01-15T12:00:02.000Z',
    reportingMTA: 'dns; mta.example.org',
  },
});

const complaint = {
  eventType: 'Complaint',
  mail: mail(),
  complaint: {
    feedbackId: 'feedback-2',
    complainedRecipients: [{ emailAddress: 'jane.doe@example.org' }],
    timestamp: '2025-01-15T13:00:00.000Z',
    userAgent: 'Mozilla/5.0',
    complaintFeedbackType: 'abuse',
    arrivalDate: '2025-01-15T12:59:00.000Z',
  },
};

function setup() {
  const messages = new MemoryMessageStore();
  return {
    messages,
    suppression: new MemorySuppressionList(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
  };
}

async function queued(deps: ReturnType<typeof setup>, id = JOB) {
  await deps.messages.record(id, { status: 'queued', at: '2025-01-15T11:59:59.000Z' }, { keyId: 'key_main' });
  await deps.messages.record(id, { status: 'sent', at: '2025-01-15T12:00:00.000Z', detail: 'ses-1' });
}

describe('Core: parseNotification', () => {
  it('reads a Delivery, a Bounce, a Complaint and a Reject, ignoring fields it does not know', () => {
    // Act
    const parsed = [
      delivery,
      bounce('Permanent'),
      complaint,
      { eventType: 'Reject', mail: mail(), reject: { reason: 'Bad content' } },
    ].map((event) => parseNotification(JSON.stringify({ ...event, someFutureField: { x: 1 } })));

    // Assess
    expect(parsed.map((result) => (result.kind === 'event' ? result.event.eventType : result.kind))).toEqual([
      'Delivery',
      'Bounce',
      'Complaint',
      'Reject',
    ]);
  });

  it.each([
    ['not JSON', '{"eventType":', 'not JSON'],
    ['a JSON list', '[]', 'not a JSON object'],
    ['an unknown event type', JSON.stringify({ ...delivery, eventType: 'Teleport' }), 'eventType'],
    [
      'a bounce without recipients',
      JSON.stringify({
        ...bounce('Permanent'),
        bounce: { ...bounce('Permanent').bounce, bouncedRecipients: [] },
      }),
      'bounce.bouncedRecipients',
    ],
    ['a bounce of an unknown type', JSON.stringify(bounce('Sideways')), 'bounce.bounceType'],
    [
      'a delivery without a message id',
      JSON.stringify({ ...delivery, mail: { ...mail(), messageId: undefined } }),
      'mail.messageId',
    ],
    [
      'a bad timestamp',
      JSON.stringify({ ...delivery, delivery: { ...delivery.delivery, timestamp: 'yesterday' } }),
      'delivery.timestamp',
    ],
  ])('refuses %s with a reason naming the place', (_name, body, where) => {
    // Act
    const parsed = parseNotification(body);

    // Assess
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.reason).toContain(where);
  });

  it('ignores the event types Postroom does not record (Send, Open, Click)', () => {
    // Act & Assess
    for (const eventType of ['Send', 'Open', 'Click']) {
      expect(parseNotification(JSON.stringify({ eventType, mail: mail() }))).toEqual({
        kind: 'ignored',
        eventType,
      });
    }
  });
});

describe('Core: effectOf', () => {
  const effect = (event: unknown) => {
    const parsed = parseNotification(JSON.stringify(event));
    if (parsed.kind !== 'event') throw new Error(`not an event: ${JSON.stringify(parsed)}`);
    return effectOf(parsed.event);
  };

  it('maps a delivery to delivered at the delivery time, recipients masked, nothing suppressed', () => {
    expect(effect(delivery)).toEqual({
      status: 'delivered',
      at: '2025-01-15T12:00:01.500Z',
      detail: 'to j***@example.org',
      suppress: [],
    });
  });

  it('suppresses the recipients of a Permanent bounce, and not those of a Transient or Undetermined one', () => {
    expect(effect(bounce('Permanent'))).toEqual({
      status: 'bounced',
      at: '2025-01-15T12:00:02.000Z',
      detail: 'Permanent (General): J***@example.org',
      suppress: [{ address: 'Jane.Doe@example.org', reason: 'bounce' }],
    });
    expect(effect(bounce('Transient', 'MailboxFull'))).toMatchObject({
      status: 'bounced',
      detail: 'Transient (MailboxFull): J***@example.org',
      suppress: [],
    });
    expect(effect(bounce('Undetermined')).suppress).toEqual([]);
  });

  it('maps a complaint to complained and suppresses the complaining address', () => {
    expect(effect(complaint)).toEqual({
      status: 'complained',
      at: '2025-01-15T13:00:00.000Z',
      detail: 'abuse: j***@example.org',
      suppress: [{ address: 'jane.doe@example.org', reason: 'complaint' }],
    });
  });

  it('maps a reject to rejected at the mail time with its reason', () => {
    expect(effect({ eventType: 'Reject', mail: mail(), reject: { reason: 'Bad content' } })).toEqual({
      status: 'rejected',
      at: '2025-01-15T12:00:00.000Z',
      detail: 'Bad content',
      suppress: [],
    });
  });
});

describe('Core: handleDeliveryNotifications', () => {
  it('records delivered on the message, after sent, and counts MailDelivered', async () => {
    // Prepare
    const deps = setup();
    await queued(deps);

    // Act
    const outcomes = await handleDeliveryNotifications([JSON.stringify(delivery)], deps);

    // Assess
    expect(outcomes).toEqual(['recorded']);
    expect(deps.messages.statuses(JOB)).toEqual(['queued', 'sent', 'delivered']);
    expect((await deps.messages.get(JOB))?.status).toBe('delivered');
    expect(deps.metrics.snapshot()).toEqual({ [METRIC.delivered]: 1 });
  });

  it('keeps the outcome when the relay writes sent after the event arrived', async () => {
    // Prepare
    const deps = setup();
    await deps.messages.record(JOB, { status: 'sending', at: '2025-01-15T12:00:00.000Z' });
    await handleDeliveryNotifications([JSON.stringify(delivery)], deps);

    // Act
    await deps.messages.record(JOB, { status: 'sent', at: '2025-01-15T12:00:03.000Z' });

    // Assess
    expect((await deps.messages.get(JOB))?.status).toBe('delivered');
    expect(deps.messages.statuses(JOB)).toEqual(['sending', 'delivered', 'sent']);
  });

  it('records a hard bounce and suppresses the address; a complaint likewise', async () => {
    // Prepare
    const deps = setup();
    await queued(deps);
    await queued(deps, 'other-job');

    // Act
    await handleDeliveryNotifications(
      [
        JSON.stringify(bounce('Permanent')),
        JSON.stringify({
          ...complaint,
          mail: mail('other-job'),
          complaint: {
            ...complaint.complaint,
            complainedRecipients: [{ emailAddress: 'angry@example.net' }],
          },
        }),
      ],
      deps,
    );

    // Assess
    expect((await deps.messages.get(JOB))?.status).toBe('bounced');
    expect((await deps.messages.get('other-job'))?.status).toBe('complained');
    expect(await deps.suppression.has('jane.doe@example.org')).toBe(true);
    expect(await deps.suppression.has('ANGRY@example.net')).toBe(true);
    expect(deps.suppression.entries.get('jane.doe@example.org')).toEqual({
      address: 'Jane.Doe@example.org',
      reason: 'bounce',
      at: '2025-01-15T12:00:02.000Z',
      messageId: JOB,
    });
    expect(deps.metrics.snapshot()).toEqual({ [METRIC.bounced]: 1, [METRIC.complained]: 1 });
    expect(deps.log.text()).not.toContain('jane.doe@');
  });

  it('does not suppress a soft bounce', async () => {
    // Prepare
    const deps = setup();
    await queued(deps);

    // Act
    await handleDeliveryNotifications([JSON.stringify(bounce('Transient', 'MailboxFull'))], deps);

    // Assess
    expect((await deps.messages.get(JOB))?.status).toBe('bounced');
    expect(deps.suppression.entries.size).toBe(0);
  });

  it('drops garbage with a logged reason and carries on with the next notification, without throwing', async () => {
    // Prepare
    const deps = setup();
    await queued(deps);

    // Act
    const outcomes = await handleDeliveryNotifications(
      ['not json', JSON.stringify({ eventType: 'Bounce' }), JSON.stringify(delivery)],
      deps,
    );

    // Assess
    expect(outcomes).toEqual(['dropped', 'dropped', 'recorded']);
    expect(
      deps.log.entries.filter((entry) => entry.message === 'delivery event dropped: unreadable'),
    ).toHaveLength(2);
    expect(deps.metrics.snapshot()).toEqual({ [METRIC.eventDropped]: 2, [METRIC.delivered]: 1 });
  });

  it('writes no status for an unknown message or a mail without the job tag, but still suppresses', async () => {
    // Prepare
    const deps = setup();

    // Act
    const outcomes = await handleDeliveryNotifications(
      [JSON.stringify(delivery), JSON.stringify({ ...bounce('Permanent'), mail: mail(undefined) })],
      deps,
    );

    // Assess
    expect(outcomes).toEqual(['unknown-message', 'unknown-message']);
    expect(deps.messages.records.size).toBe(0);
    expect(await deps.suppression.has('jane.doe@example.org')).toBe(true);
  });

  it('throws after trying every notification when the store fails, so Lambda retries the invocation', async () => {
    // Prepare
    const deps = setup();
    deps.messages.failing = true;

    // Act & Assess
    await expect(handleDeliveryNotifications([JSON.stringify(delivery), 'garbage'], deps)).rejects.toThrow(
      'status store down',
    );
    expect(deps.log.entries.some((entry) => entry.message === 'delivery event dropped: unreadable')).toBe(
      true,
    );
  });
});

describe('Core: handleDeliveryNotifications, correlation', () => {
  const tagged = (correlationId: string) => ({
    ...bounce('Permanent'),
    mail: { ...mail(), tags: { ...mail().tags, 'postroom-correlation-id': [correlationId] } },
  });

  it("puts the sending request's correlation id, from the mail's tags, on every line about the event", async () => {
    // Prepare: a bounce logs twice (suppressed, recorded)
    const deps = setup();
    await queued(deps);

    // Act
    await handleDeliveryNotifications([JSON.stringify(tagged('a1b2c3d4-req'))], deps);

    // Assess
    expect(deps.log.entries.map((entry) => entry.message)).toEqual([
      'recipients suppressed',
      'delivery event recorded',
    ]);
    for (const entry of deps.log.entries) {
      expect(entry.attributes).toMatchObject({ correlationId: 'a1b2c3d4-req', jobId: JOB });
    }
  });

  it('keeps the correlation id on the error line when the store fails', async () => {
    // Prepare
    const deps = setup();
    deps.messages.failing = true;

    // Act
    await expect(
      handleDeliveryNotifications([JSON.stringify({ ...delivery, mail: tagged('req-9').mail })], deps),
    ).rejects.toThrow('status store down');

    // Assess
    expect(deps.log.entries).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'could not record a delivery event',
        attributes: expect.objectContaining({ correlationId: 'req-9', jobId: JOB, error: 'Error' }),
      }),
    ]);
  });

  it('leaves off a correlation id that is not a valid tag value', async () => {
    // Prepare
    const deps = setup();
    await queued(deps);

    // Act
    await handleDeliveryNotifications([JSON.stringify(tagged('has space{}'))], deps);

    // Assess
    expect(deps.log.entries.length).toBeGreaterThan(0);
    for (const entry of deps.log.entries) expect(entry.attributes).not.toHaveProperty('correlationId');
  });
});

describe('Local: SES notifications for the mailbox simulator', () => {
  const outbound = (to: string[]) => ({
    jobId: JOB,
    from: 'no-reply@example.com',
    to,
    raw: Buffer.from(''),
    tags: [{ name: 'category', value: 'receipt' }],
  });
  const events = (to: string[]) =>
    sesNotifications(outbound(to), 'ses-1', new Date('2025-01-15T12:00:00.000Z'), {
      region: 'us-east-1',
    }).map((notification) => {
      const parsed = parseNotification(JSON.stringify(notification));
      if (parsed.kind !== 'event') throw new Error(`unreadable: ${JSON.stringify(parsed)}`);
      return effectOf(parsed.event);
    });

  it('delivers normal recipients in one Delivery event that the core reads, with the job tag', () => {
    // Act
    const [notification] = sesNotifications(
      outbound(['a@example.org', 'b@example.org']),
      'ses-1',
      new Date(),
      {
        region: 'us-east-1',
      },
    );

    // Assess
    expect(notification).toMatchObject({
      eventType: 'Delivery',
      mail: { messageId: 'ses-1', tags: { 'postroom-job-id': [JOB], category: ['receipt'] } },
      delivery: { recipients: ['a@example.org', 'b@example.org'] },
    });
    expect(events(['a@example.org']).map((effect) => effect.status)).toEqual(['delivered']);
  });

  it("hands back the relay's correlation id as SES does, and never a sender's tag in its place", () => {
    // Act
    const [notification] = sesNotifications(
      {
        ...outbound(['a@example.org']),
        correlationId: 'req-42',
        tags: [{ name: 'postroom-correlation-id', value: 'forged' }],
      },
      'ses-1',
      new Date(),
      { region: 'us-east-1' },
    );

    // Assess
    expect(notification?.mail).toMatchObject({
      tags: { 'postroom-job-id': [JOB], 'postroom-correlation-id': ['req-42'] },
    });
  });

  it('bounces, complains and suppresses the simulator addresses as SES does', () => {
    expect(events([SIMULATOR.bounce])).toEqual([
      expect.objectContaining({
        status: 'bounced',
        detail: 'Permanent (General): b***@simulator.amazonses.com',
      }),
    ]);
    expect(events([SIMULATOR.complaint]).map((effect) => effect.status)).toEqual(['delivered', 'complained']);
    expect(events([SIMULATOR.suppressionList])).toEqual([
      expect.objectContaining({
        status: 'bounced',
        detail: expect.stringMatching(/^Permanent \(OnAccountSuppressionList\)/),
        suppress: [{ address: SIMULATOR.suppressionList, reason: 'bounce' }],
      }),
    ]);
    expect(events([SIMULATOR.success]).map((effect) => effect.status)).toEqual(['delivered']);
  });
});
