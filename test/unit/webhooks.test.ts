import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ConfigError, PermanentSendError } from '../../functions/core/errors';
import { handleDeliveryNotifications } from '../../functions/core/events/delivery-events';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { providerTags } from '../../functions/core/mail/message-tags';
import { METRIC } from '../../functions/core/metrics';
import { relayBatch } from '../../functions/core/relay/relay';
import {
  decide,
  dispatchBatch,
  MAX_DELAY_SECONDS,
  RETRY_SCHEDULE_SECONDS,
  retryAfterSeconds,
  signedHeaders,
  type WebhookAnswer,
} from '../../functions/core/webhooks/dispatch';
import { publishWebhookEvent, subscribers } from '../../functions/core/webhooks/publish';
import { parseSince, replayEndpointSince } from '../../functions/core/webhooks/replay';
import {
  fitSubmission,
  MAX_PAYLOAD_BYTES,
  parseWebhookMessage,
  payloadOf,
  type SubmissionData,
  serializeWebhookMessage,
  type WebhookEvent,
  type WebhookMessage,
} from '../../functions/core/webhooks/webhook-event';
import { configWith, contactJob } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryMessageStore,
  MemoryRelayQueue,
  MemorySuppressionList,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';

const SECRET = `whsec_${Buffer.from('a'.repeat(32)).toString('base64')}`;
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const answered = (status: number, retryAfter?: string): WebhookAnswer => ({
  kind: 'answered',
  status,
  retryAfter,
  bodyStart: '',
});

function endpoint(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    url: `https://hooks.example.com/${id}`,
    events: ['submission.received'],
    secret: `postroom/${id}`,
    ...extra,
  };
}

describe('Core: webhook dispatch decisions', () => {
  it('delivers on any 2xx', () => {
    for (const status of [200, 201, 204, 299])
      expect(decide(answered(status), 1, NOW)).toEqual({ kind: 'delivered' });
  });

  it('retries 3xx, 4xx and 5xx on the schedule: 5 s after the first attempt, 10 h after the seventh', () => {
    expect(decide(answered(302), 1, NOW)).toMatchObject({
      kind: 'retry',
      delaySeconds: 5,
      reason: expect.stringContaining('not followed'),
    });
    expect(decide(answered(400), 2, NOW)).toMatchObject({ kind: 'retry', delaySeconds: 300 });
    expect(decide(answered(500), 7, NOW)).toMatchObject({ kind: 'retry', delaySeconds: 36_000 });
    expect(RETRY_SCHEDULE_SECONDS).toEqual([0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]);
  });

  it('dead-letters after the eighth failed attempt, with the last reason', () => {
    expect(decide(answered(503), 8, NOW)).toEqual({
      kind: 'dead-letter',
      reason: '8 attempts failed; the last: the endpoint answered 503',
    });
  });

  it('disables the endpoint on 410 Gone, at any attempt', () => {
    expect(decide(answered(410), 1, NOW)).toEqual({
      kind: 'disable',
      reason: 'the endpoint answered 410 Gone',
    });
  });

  it('honours a Retry-After longer than the schedule on 429 and 5xx, capped at SQS visibility', () => {
    expect(decide(answered(429, '120'), 1, NOW)).toMatchObject({ kind: 'retry', delaySeconds: 120 });
    expect(decide(answered(503, '2'), 1, NOW)).toMatchObject({ kind: 'retry', delaySeconds: 5 });
    expect(decide(answered(429, '999999'), 1, NOW)).toMatchObject({ delaySeconds: MAX_DELAY_SECONDS });
    // Only 429 and 5xx: a 404's Retry-After is not the receiver asking for time.
    expect(decide(answered(404, '120'), 1, NOW)).toMatchObject({ delaySeconds: 5 });
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores anything else', () => {
    expect(retryAfterSeconds('30', NOW)).toBe(30);
    expect(retryAfterSeconds(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90);
    expect(retryAfterSeconds('soon', NOW)).toBe(0);
    expect(retryAfterSeconds(undefined, NOW)).toBe(0);
  });

  it('retries an unanswered attempt, but dead-letters one the SSRF guard refused', () => {
    expect(
      decide({ kind: 'unreachable', reason: 'no answer within 15 s', retryable: true }, 1, NOW),
    ).toMatchObject({ kind: 'retry' });
    expect(decide({ kind: 'unreachable', reason: 'refused', retryable: false }, 1, NOW)).toEqual({
      kind: 'dead-letter',
      reason: 'refused',
    });
  });
});

describe('Core: signing', () => {
  it('signs id.timestamp.body so that standardwebhooks verifies it', () => {
    const body = '{"type":"webhook.test"}';
    const headers = signedHeaders(SECRET, { id: 'msg_1' }, body, new Date());
    expect(() => new Webhook(SECRET).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(SECRET).verify(`${body} `, headers)).toThrow();
  });

  it('gives one signature per secret while rotating', () => {
    const other = `whsec_${Buffer.from('b'.repeat(32)).toString('base64')}`;
    const headers = signedHeaders(`${SECRET} ${other}`, { id: 'msg_1' }, '{}', new Date());
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => new Webhook(other).verify('{}', headers)).not.toThrow();
  });
});

describe('Core: webhook fan-out and payloads', () => {
  const event = (
    data: Record<string, unknown>,
    type: WebhookEvent['type'] = 'submission.received',
  ): WebhookEvent => ({
    id: 'msg_1',
    type,
    timestamp: new Date(NOW).toISOString(),
    data: data as unknown as SubmissionData,
  });

  it('picks endpoints by event type, form and includeSpam', () => {
    const config = configWith({
      webhooks: [
        endpoint('all'),
        endpoint('other-form', { forms: ['contact'] }),
        endpoint('spam', { includeSpam: true }),
        endpoint('mail', { events: ['email.sent'] }),
      ],
    });
    const ids = (data: Record<string, unknown>, type?: WebhookEvent['type']) =>
      subscribers(config.webhooks, event(data, type)).map((e) => e.id);
    expect(ids({ formId: 'contact', spam: false })).toEqual(['all', 'other-form', 'spam']);
    expect(ids({ formId: 'contact', spam: true })).toEqual(['spam']);
    expect(ids({ formId: 'elsewhere', spam: false })).toEqual(['all', 'spam']);
    expect(ids({ messageId: 'm' }, 'email.sent')).toEqual(['mail']);
    expect(ids({ endpointId: 'all' }, 'webhook.test')).toEqual([]);
  });

  it('shortens field values so a submission payload stays under 20 KB', () => {
    const big = event({
      formId: 'contact',
      submissionId: 's',
      spam: false,
      fields: { message: 'x'.repeat(90_000), other: '😀'.repeat(9_000) },
      files: [],
    });
    const fitted = fitSubmission(big as WebhookEvent & { data: SubmissionData });
    expect(Buffer.byteLength(payloadOf(fitted))).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect((fitted.data as SubmissionData).truncated).toBe(true);
    expect(payloadOf(fitted)).not.toMatch(/[\uD800-\uDFFF](?![\uDC00-\uDFFF])/u);
  });

  it('reads back a queue message it wrote, and names the bad field of one it cannot read', () => {
    const message: WebhookMessage = { v: 1, endpointId: 'crm', ...event({ formId: 'contact' }) };
    expect(parseWebhookMessage(serializeWebhookMessage(message))).toEqual({ ok: true, message });
    expect(parseWebhookMessage(JSON.stringify({ ...message, v: 2 }))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('v'),
    });
    expect(parseWebhookMessage('{')).toEqual({ ok: false, reason: 'not JSON' });
  });

  it('never fails the producer when the webhook queue does not take the event: logs and counts it', async () => {
    const log = new RecordingLog();
    const metrics = new RecordingMetrics();
    const config = configWith({ webhooks: [endpoint('all')] });
    const queue = { enqueue: async () => Promise.reject(new Error('queue down')) };
    await expect(
      publishWebhookEvent({ config, queue, log, metrics }, event({ formId: 'contact' })),
    ).resolves.toBeUndefined();
    expect(metrics.counts.get(METRIC.webhookEnqueueFailed)).toBe(1);
    expect(log.entries.some((entry) => entry.message === 'webhook event not queued')).toBe(true);
  });
});

describe('Core: relay publishes email.sent and email.failed', () => {
  function relayDeps(transport: ScriptedTransport) {
    const queued: WebhookMessage[] = [];
    const config = configWith({ webhooks: [endpoint('mail', { events: ['email.sent', 'email.failed'] })] });
    return {
      queued,
      deps: {
        config,
        transport,
        claims: new MemoryClaimStore(),
        queue: new MemoryRelayQueue(),
        clock: new FakeClock(),
        log: new RecordingLog(),
        metrics: new RecordingMetrics(),
        random: () => 0.5,
        webhookQueue: {
          enqueue: async (messages: ReadonlyArray<WebhookMessage>) => void queued.push(...messages),
        },
      },
    };
  }
  const record = () => ({
    messageId: 'm1',
    receiptHandle: 'r1',
    body: serializeMailJob(contactJob().job),
    receiveCount: 1,
  });

  it('email.sent names the form, the message and the recipients', async () => {
    const { deps, queued } = relayDeps(new ScriptedTransport());
    await relayBatch([record()], deps);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      type: 'email.sent',
      endpointId: 'mail',
      data: { formId: 'contact', status: 'sent', recipients: ['owner@example.com'] },
    });
  });

  it('email.failed carries the reason when the job is dead-lettered', async () => {
    const { deps, queued } = relayDeps(
      new ScriptedTransport().failNext(new PermanentSendError('550 no such user')),
    );
    await relayBatch([record()], deps);
    expect(queued[0]).toMatchObject({
      type: 'email.failed',
      data: { status: 'failed', reason: expect.stringContaining('550') },
    });
  });
});

describe('Core: delivery events carry the form id of form mail', () => {
  const FORM_JOB = '5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a';
  /** An SES Delivery notification for a mail the relay tagged as `tags` say. */
  const deliveryOf = (tags: Record<string, string[]>) =>
    JSON.stringify({
      eventType: 'Delivery',
      mail: {
        timestamp: '2025-01-15T12:00:00.000Z',
        messageId: 'ses-1',
        destination: ['owner@example.com'],
        tags: { 'postroom-job-id': [FORM_JOB], ...tags },
      },
      delivery: { timestamp: '2025-01-15T12:00:01.000Z', recipients: ['owner@example.com'] },
    });
  async function published(tags: Record<string, string[]>) {
    const queued: WebhookMessage[] = [];
    const messages = new MemoryMessageStore();
    await messages.record(FORM_JOB, { status: 'sent', at: '2025-01-15T12:00:00.000Z' });
    const config = configWith({
      webhooks: [
        endpoint('contact-only', { events: ['email.delivered'], forms: ['contact'] }),
        endpoint('all-mail', { events: ['email.delivered'] }),
      ],
    });
    await handleDeliveryNotifications([deliveryOf(tags)], {
      messages,
      suppression: new MemorySuppressionList(),
      log: new RecordingLog(),
      metrics: new RecordingMetrics(),
      webhooks: { config, queue: { enqueue: async (m) => void queued.push(...m) } },
    });
    return queued;
  }

  it('takes formId from the postroom-form-id tag, so a forms filter applies to email.delivered', async () => {
    const queued = await published({ 'postroom-form-id': ['contact'] });
    expect(queued.map((m) => m.endpointId).sort()).toEqual(['all-mail', 'contact-only']);
    expect(queued[0]?.data).toMatchObject({ formId: 'contact', status: 'delivered' });
  });

  it('leaves formId off API mail and off a tag that names no configured form', async () => {
    const cases: Array<Record<string, string[]>> = [{}, { 'postroom-form-id': ['not-a-form'] }];
    for (const tags of cases) {
      const queued = await published(tags);
      expect(queued.map((m) => m.endpointId)).toEqual(['all-mail']);
      expect(queued[0]?.data).not.toHaveProperty('formId');
    }
  });

  it("tags form mail with its form for SES, and never takes a sender's tag of that name", () => {
    const mail = { jobId: FORM_JOB, from: 'a@example.com', to: [], raw: Buffer.from('') };
    expect(providerTags({ ...mail, formId: 'contact' })).toContainEqual({
      name: 'postroom-form-id',
      value: 'contact',
    });
    expect(
      providerTags({ ...mail, tags: [{ name: 'postroom-form-id', value: 'forged' }] }).map((t) => t.name),
    ).toEqual(['postroom-job-id']);
  });
});

describe('Core: replay --since', () => {
  it('reads a duration back from now or a time with its offset, within the 14 days records are kept', () => {
    expect(parseSince('2h', NOW)).toEqual({ ok: true, sinceMs: NOW - 7_200_000 });
    expect(parseSince('90s', NOW)).toEqual({ ok: true, sinceMs: NOW - 90_000 });
    expect(parseSince('14d', NOW)).toEqual({ ok: true, sinceMs: NOW - 14 * 86_400_000 });
    expect(parseSince('2026-01-01T13:00:00+02:00', NOW)).toEqual({ ok: true, sinceMs: NOW - 3_600_000 });
    expect(parseSince('15d', NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('14 days') });
    expect(parseSince('2026-01-01T12:00:00', NOW)).toMatchObject({ ok: false });
    expect(parseSince('2026-01-02T00:00:00Z', NOW)).toMatchObject({
      reason: expect.stringContaining('future'),
    });
    expect(parseSince('2 hours', NOW)).toMatchObject({ ok: false });
  });

  it("queues the endpoint's events since then, oldest first, unchanged, and nothing older", async () => {
    const at = (offsetMs: number, id: string): WebhookMessage => ({
      v: 1,
      endpointId: 'crm',
      id,
      type: 'submission.received',
      timestamp: new Date(NOW + offsetMs).toISOString(),
      data: { formId: 'contact', submissionId: id, spam: false, fields: {}, files: [] },
    });
    const queued: WebhookMessage[] = [];
    const result = await replayEndpointSince('crm', NOW - 1_000, {
      // The store rounds the time down to the second: it may give a little more than asked.
      recorded: async () => [at(0, 'msg_new'), at(-1_500, 'msg_old'), at(-500, 'msg_first')],
      queue: { enqueue: async (messages) => void queued.push(...messages) },
    });
    expect(result.map((m) => m.id)).toEqual(['msg_first', 'msg_new']);
    expect(queued).toEqual(result);
  });
});

describe('Core: dispatchBatch', () => {
  it('dead-letters an event for an endpoint no longer configured, without posting', async () => {
    const posted: string[] = [];
    const dead: string[] = [];
    const result = await dispatchBatch(
      [
        {
          messageId: 'q1',
          receiptHandle: 'r',
          receiveCount: 1,
          body: serializeWebhookMessage({
            v: 1,
            endpointId: 'gone',
            id: 'msg_1',
            type: 'webhook.test',
            timestamp: new Date(NOW).toISOString(),
            data: { endpointId: 'gone', message: 'hi' },
          }),
        },
      ],
      {
        config: configWith({ webhooks: [endpoint('crm')] }),
        sender: {
          post: async (url) => {
            posted.push(url);
            return answered(200);
          },
        },
        store: {
          recordAttempt: async () => {},
          endpointState: async () => ({ disabled: false }),
          recordResult: async () => {},
          disable: async () => {},
        },
        queue: {
          retryLater: async () => {},
          deadLetter: async (_body, details) => void dead.push(details.reason),
        },
        secret: () => SECRET,
        clock: new FakeClock(),
        log: new RecordingLog(),
        metrics: new RecordingMetrics(),
      },
    );
    expect(result).toEqual({ failures: [], outcomes: ['dead-letter'] });
    expect(posted).toEqual([]);
    expect(dead).toEqual(['the endpoint is no longer configured']);
  });

  it('fails only the record whose queue call failed, never the delivered ones of its batch', async () => {
    // Prepare: the first event is delivered; the second is answered 503 and its retry is refused by SQS
    const statuses = [200, 503];
    const body = (id: string): string =>
      serializeWebhookMessage({
        v: 1,
        endpointId: 'crm',
        id,
        type: 'webhook.test',
        timestamp: new Date(NOW).toISOString(),
        data: { endpointId: 'crm', message: 'hi' },
      });
    const log = new RecordingLog();

    // Act
    const result = await dispatchBatch(
      [
        { messageId: 'q1', receiptHandle: 'r1', receiveCount: 1, body: body('msg_1') },
        { messageId: 'q2', receiptHandle: 'r2', receiveCount: 1, body: body('msg_2') },
      ],
      {
        config: configWith({ webhooks: [endpoint('crm')] }),
        sender: { post: async () => answered(statuses.shift() ?? 500) },
        store: {
          recordAttempt: async () => {},
          endpointState: async () => ({ disabled: false }),
          recordResult: async () => {},
          disable: async () => {},
        },
        queue: {
          retryLater: async () => {
            throw Object.assign(
              new Error('Message does not exist or is not available for visibility timeout change'),
              {
                name: 'MessageNotInflight',
              },
            );
          },
          deadLetter: async () => {},
        },
        secret: () => SECRET,
        clock: new FakeClock(),
        log,
        metrics: new RecordingMetrics(),
      },
    );

    // Assess
    expect(result).toEqual({ failures: ['q2'], outcomes: ['delivered', 'retry'] });
    expect(JSON.stringify(log.entries)).toContain('MessageNotInflight');
  });

  it('counts each outcome per endpoint and in total, and no endpoint dimension for an unknown endpoint', async () => {
    // Prepare: crm answers 200, then 503, then 410; an event for a removed endpoint
    const metrics = new RecordingMetrics();
    const statuses = [200, 503, 410];
    const message = (id: string, endpointId: string): string =>
      serializeWebhookMessage({
        v: 1,
        endpointId,
        id,
        type: 'webhook.test',
        timestamp: new Date(NOW).toISOString(),
        data: { endpointId, message: 'hi' },
      });
    const deps = {
      config: configWith({ webhooks: [endpoint('crm')] }),
      sender: { post: async () => answered(statuses.shift() ?? 500) },
      store: {
        recordAttempt: async () => {},
        endpointState: async () => ({ disabled: false }),
        recordResult: async () => {},
        disable: async () => {},
      },
      queue: { retryLater: async () => {}, deadLetter: async () => {} },
      secret: () => SECRET,
      clock: new FakeClock(),
      log: new RecordingLog(),
      metrics,
    };

    // Act: one at a time, so the answers go in order
    for (const [index, endpointId] of ['crm', 'crm', 'crm', 'gone'].entries()) {
      await dispatchBatch(
        [
          {
            messageId: `q${index}`,
            receiptHandle: 'r',
            receiveCount: 1,
            body: message(`msg_${index}`, endpointId),
          },
        ],
        deps,
      );
    }

    // Assess
    expect(metrics.byDimension()).toEqual({
      'WebhookDelivered{endpoint=crm}': 1,
      'WebhookRetried{endpoint=crm}': 1,
      'WebhookEndpointDisabled{endpoint=crm}': 1,
      'WebhookDeadLettered{endpoint=crm}': 1,
    });
    expect(metrics.snapshot()).toMatchObject({
      WebhookDelivered: 1,
      WebhookRetried: 1,
      WebhookEndpointDisabled: 1,
      WebhookDeadLettered: 2,
    });
  });
});

describe('Config: webhooks', () => {
  const problems = (webhooks: unknown[]) => {
    try {
      configWith({ webhooks });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.message;
    }
  };

  it('accepts https, and plain http only to loopback', () => {
    expect(problems([endpoint('a'), endpoint('b', { url: 'http://127.0.0.1:9000/hook' })])).toEqual([]);
    expect(problems([endpoint('a', { url: 'http://hooks.example.com/x' })])).toContain('webhooks[0].url');
  });

  it('refuses unknown events, unknown forms, duplicate ids and credentials in the URL', () => {
    expect(problems([endpoint('a', { events: ['email.opened'] })])).toContain('webhooks[0].events');
    expect(problems([endpoint('a', { forms: ['nope'] })])).toContain('names no configured form');
    expect(problems([endpoint('a'), endpoint('a')])).toContain('duplicate webhook id');
    expect(problems([endpoint('a', { url: 'https://u:p@hooks.example.com/' })])).toContain(
      'user name or password',
    );
  });

  it('has no webhooks by default', () => {
    expect(configWith({}).webhooks).toEqual([]);
  });
});
