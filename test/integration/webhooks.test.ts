import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoWebhookStore } from '../../functions/adapters/dynamodb-webhooks';
import { ATTRIBUTE } from '../../functions/adapters/queue-attributes';
import { SqsWebhookQueue } from '../../functions/adapters/sqs-webhook-queue';
import { scheduleEvent } from '../../functions/core/webhooks/producers';
import { replayWebhookEvent } from '../../functions/core/webhooks/replay';
import { SIMULATOR } from '../../local/ses-events';
import { shippedConfigInput } from '../fakes/config';
import { runCliCaptured } from '../support/cli';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { newWebhookSecret, type ReceivedWebhook, WebhookReceiver } from '../support/webhook-receiver';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
const ALL_EVENTS = [
  'submission.received',
  'email.sent',
  'email.delivered',
  'email.bounced',
  'email.complained',
  'email.failed',
];
// Three attempts, a second apart: the shape of the real schedule in seconds, not hours.
const SCHEDULE = [0, 1, 1];

describe('Webhooks on the local stack (real dispatcher, receiver verifying with standardwebhooks)', () => {
  const receiver = new WebhookReceiver();
  // The crm endpoint is mid-rotation: Postroom signs with both, each receiver knows one.
  const oldSecret = newWebhookSecret();
  const newSecret = newWebhookSecret();
  const secrets = {
    crm: `${oldSecret} ${newSecret}`,
    spam: newWebhookSecret(),
    gone: newWebhookSecret(),
    busy: newWebhookSecret(),
    moved: newWebhookSecret(),
    sched: newWebhookSecret(),
    'contact-mail': newWebhookSecret(),
  };
  let stack: TestStack;
  let store: DynamoWebhookStore;
  let destroy: () => void;
  let webhooks: unknown[];

  beforeAll(async () => {
    await receiver.start();
    receiver.verifyWith('/crm', oldSecret);
    receiver.verifyWith('/crm-new', newSecret);
    receiver.verifyWith('/spam', secrets.spam);
    receiver.verifyWith('/gone', secrets.gone);
    receiver.verifyWith('/busy', secrets.busy);
    receiver.verifyWith('/moved', secrets.moved);
    receiver.verifyWith('/sched', secrets.sched);
    receiver.verifyWith('/contact-mail', secrets['contact-mail']);
    receiver.script('/moved', [{ status: 302, headers: { location: `${receiver.url}/moved-target` } }]);
    const only = (id: string, path: string, extra: Record<string, unknown> = {}) => ({
      id,
      url: `${receiver.url}${path}`,
      events: ['submission.received'],
      secret: `postroom/webhooks/${id}`,
      ...extra,
    });
    webhooks = [
      { ...only('crm', '/crm'), events: ALL_EVENTS },
      only('spam', '/spam', { includeSpam: true, forms: ['contact'] }),
      only('gone', '/gone'),
      only('busy', '/busy'),
      only('moved', '/moved'),
      { ...only('sched', '/sched'), events: ['email.scheduled', 'email.canceled'] },
      only('contact-mail', '/contact-mail', {
        events: ['email.sent', 'email.delivered'],
        forms: ['contact'],
      }),
    ];
    stack = await startTestStack(testConfig({ webhooks }), {
      apiKey: API_KEY,
      webhookSecrets: secrets,
      webhookSchedule: SCHEDULE,
    });
    const dynamodb = createDynamoClient({
      region: 'us-east-1',
      endpoints: { dynamodb: stack.endpoints.dynamodb },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    destroy = () => dynamodb.destroy();
    store = new DynamoWebhookStore(dynamodb, stack.resources.tableName);
  }, 60_000);

  afterAll(async () => {
    destroy?.();
    await stack?.stop();
    await receiver.stop();
  });

  function submit(fields: Record<string, string>) {
    return fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fields),
    });
  }

  async function submitted(fields: Record<string, string> = {}): Promise<string> {
    const response = await submit({
      email: 'visitor@example.org',
      name: 'Vera',
      message: `Hello ${randomUUID()}`,
      ...fields,
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  async function sent(to: string): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        from: 'orders@example.com',
        to,
        subject: 'Receipt',
        text: `Thanks ${randomUUID()}`,
      }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  /** A JSON call to the stack's API with the test's key. */
  function api(method: string, url: string, body: unknown) {
    return fetch(`${stack.apiUrl}${url}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body),
    });
  }

  /** A time as the API takes it: whole seconds, `Z`. */
  const at = (date: Date) => date.toISOString().replace('.000Z', 'Z');

  function arrival(path: string, match: (hook: ReceivedWebhook) => boolean, timeoutMs = 10_000) {
    return eventually(async () => receiver.at(path).find(match), timeoutMs, `a webhook at ${path}`);
  }

  const about = (id: string) => (hook: ReceivedWebhook) => {
    const data = hook.verified?.data ?? (JSON.parse(hook.body) as { data: Record<string, unknown> }).data;
    return data.submissionId === id || data.messageId === id;
  };

  it('sends submission.received with the fields, signed so that Webhook.verify accepts it', async () => {
    const id = await submitted({ company: 'Acme' });
    const hook = await arrival('/crm', about(id));
    expect(hook.verified).toMatchObject({
      type: 'submission.received',
      data: {
        formId: 'contact',
        submissionId: id,
        spam: false,
        fields: { email: 'visitor@example.org', name: 'Vera', company: 'Acme' },
        files: [],
      },
    });
    expect(hook.headers['webhook-id']).toMatch(/^msg_[A-Za-z0-9_]+$/);
    expect(Math.abs(Number(hook.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
  });

  it('signs with both secrets while rotating: a receiver knowing only the old or only the new verifies', async () => {
    const id = await submitted();
    const hook = await arrival('/crm', about(id));
    const signatures = String(hook.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith('v1,'))).toBe(true);
    expect(hook.verified).toBeDefined();
    // The same request, checked by a receiver that has moved to the new secret.
    const { Webhook } = await import('standardwebhooks');
    const headers = {
      'webhook-id': String(hook.headers['webhook-id']),
      'webhook-timestamp': String(hook.headers['webhook-timestamp']),
      'webhook-signature': String(hook.headers['webhook-signature']),
    };
    expect(() => new Webhook(newSecret).verify(hook.body, headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(hook.body, headers)).toThrow();
  });

  it('sends spam only to the endpoint with includeSpam, marked spam: true', async () => {
    const id = await submitted({ _gotcha: 'bot was here' });
    const hook = await arrival('/spam', about(id));
    expect(hook.verified?.data).toMatchObject({ spam: true, guard: 'honeypot' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.at('/crm').filter(about(id))).toEqual([]);
  });

  it('sends email.sent and email.delivered for delivered mail', async () => {
    const id = await sent(SIMULATOR.success);
    const sentHook = await arrival('/crm', (h) => about(id)(h) && h.verified?.type === 'email.sent');
    expect(sentHook.verified?.data).toMatchObject({
      messageId: id,
      status: 'sent',
      recipients: [SIMULATOR.success],
    });
    const delivered = await arrival('/crm', (h) => about(id)(h) && h.verified?.type === 'email.delivered');
    expect(delivered.verified?.data).toMatchObject({ status: 'delivered', recipients: [SIMULATOR.success] });
  });

  it('sends email.bounced and email.complained with their reason', async () => {
    const bounced = await sent(SIMULATOR.bounce);
    const complained = await sent(SIMULATOR.complaint);
    const bounce = await arrival('/crm', (h) => about(bounced)(h) && h.verified?.type === 'email.bounced');
    expect(bounce.verified?.data).toMatchObject({
      recipients: [SIMULATOR.bounce],
      reason: expect.stringContaining('Permanent'),
    });
    const complaint = await arrival(
      '/crm',
      (h) => about(complained)(h) && h.verified?.type === 'email.complained',
    );
    expect(complaint.verified?.data).toMatchObject({ recipients: [SIMULATOR.complaint] });
  });

  it('sends email.delivered of form mail with its formId to an endpoint that takes only that form', async () => {
    // Prepare: a form submission (mail to the form's owner) and an API mail
    const form = await submitted();
    const api = await sent(SIMULATOR.success);

    // Assess: the form's mail reaches /contact-mail, sent and delivered, with the form; the API mail does not
    const delivered = await arrival(
      '/contact-mail',
      (h) => about(form)(h) && h.verified?.type === 'email.delivered',
    );
    expect(delivered.verified?.data).toMatchObject({
      messageId: form,
      formId: 'contact',
      status: 'delivered',
    });
    await arrival('/crm', (h) => about(api)(h) && h.verified?.type === 'email.delivered');
    expect(receiver.at('/contact-mail').filter(about(api))).toEqual([]);
  });

  it('sends email.scheduled when a message is scheduled or moved, and email.canceled when it is canceled', async () => {
    // Prepare
    const inAnHour = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
    const later = new Date(inAnHour.getTime() + 3_600_000);
    const message = { from: 'orders@example.com', to: SIMULATOR.success, subject: 'Later', text: 'Later' };

    // Act: one scheduled alone, one in a batch beside an unscheduled one; move the first, then cancel it
    const single = await api('POST', '/v1/send', { ...message, scheduledAt: at(inAnHour) });
    expect(single.status).toBe(202);
    const id = ((await single.json()) as { id: string }).id;
    const batch = await api('POST', '/v1/send/batch', {
      messages: [{ ...message, scheduledAt: at(inAnHour) }, message],
    });
    const results = ((await batch.json()) as { results: Array<{ id: string }> }).results;
    const [batched, unscheduled] = results.map((result) => result.id);
    const scheduledHook = (messageId: string | undefined, time: Date) =>
      arrival(
        '/sched',
        (h) =>
          h.verified?.type === 'email.scheduled' &&
          h.verified.data.messageId === messageId &&
          h.verified.data.scheduledAt === at(time),
      );
    const first = await scheduledHook(id, inAnHour);
    await scheduledHook(batched, inAnHour);
    expect((await api('PATCH', `/v1/messages/${id}`, { scheduledAt: at(later) })).status).toBe(200);
    const moved = await scheduledHook(id, later);
    expect((await api('POST', `/v1/messages/${id}/cancel`, {})).status).toBe(200);
    const canceled = await arrival(
      '/sched',
      (h) => h.verified?.type === 'email.canceled' && h.verified.data.messageId === id,
    );

    // Assess
    expect(first.verified?.data).toEqual({
      messageId: id,
      status: 'scheduled',
      scheduledAt: at(inAnHour),
      recipients: [SIMULATOR.success],
    });
    expect(moved.headers['webhook-id']).not.toBe(first.headers['webhook-id']);
    expect(canceled.verified?.data).toEqual({
      messageId: id,
      status: 'canceled',
      scheduledAt: at(later),
      recipients: [SIMULATOR.success],
    });
    expect(receiver.at('/sched').filter((h) => h.verified?.data.messageId === unscheduled)).toEqual([]);
  });

  it('sends email.canceled once for a cancel with the CLI (scheduled cancel), with the webhook-id an API cancel gets', async () => {
    // Prepare: a message scheduled in an hour, announced; the CLI reads the endpoints from the test's own file
    const dir = mkdtempSync(path.join(tmpdir(), 'postroom-scheduled-'));
    const configPath = path.join(dir, 'postroom.scheduled.json');
    writeFileSync(configPath, JSON.stringify({ ...shippedConfigInput(), webhooks }));
    const cancel = (id: string) =>
      runCliCaptured([
        'scheduled',
        'cancel',
        id,
        '--config',
        configPath,
        '--dynamodb-endpoint',
        stack.endpoints.dynamodb,
        '--sqs-endpoint',
        stack.endpoints.sqs,
      ]);
    const scheduledAt = at(new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000));
    const response = await api('POST', '/v1/send', {
      from: 'orders@example.com',
      to: SIMULATOR.success,
      subject: 'Later',
      text: 'Later',
      scheduledAt,
    });
    expect(response.status).toBe(202);
    const id = ((await response.json()) as { id: string }).id;
    await arrival(
      '/sched',
      (h) => h.verified?.type === 'email.scheduled' && h.verified.data.messageId === id,
    );
    const canceledHooks = () =>
      receiver
        .at('/sched')
        .filter((h) => h.verified?.type === 'email.canceled' && h.verified.data.messageId === id);

    // Act
    const first = await cancel(id);

    // Assess: the event the API cancel publishes (its id derives from the message: scheduleEvent), signed
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toContain('Queued its email.canceled webhook event');
    const hook = await arrival(
      '/sched',
      (h) => h.verified?.type === 'email.canceled' && h.verified.data.messageId === id,
    );
    expect(hook.verified?.data).toEqual({
      messageId: id,
      status: 'canceled',
      scheduledAt,
      recipients: [SIMULATOR.success],
    });
    expect(hook.headers['webhook-id']).toBe(
      scheduleEvent('canceled', scheduledAt, { messageId: id, scheduledAt, recipients: [] }).id,
    );

    // A second cancel, by the CLI or the API, changes nothing and publishes nothing
    const second = await cancel(id);
    expect(second.code).toBe(1);
    expect(second.err).toContain('is canceled, not scheduled');
    const apiCancel = await api('POST', `/v1/messages/${id}/cancel`, {});
    expect(apiCancel.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(canceledHooks()).toHaveLength(1);
  });

  it('disables an endpoint that answers 410, dead-letters its events with the reason, until enabled', async () => {
    // Prepare: whatever ran before, /gone is enabled and answers its next request 410
    await store.enable('gone', new Date().toISOString());
    receiver.script('/gone', [{ status: 410 }, { status: 204 }]);
    // This submission's event, or one of an earlier test still on its way, meets the 410.
    await submitted();
    await eventually(
      async () => ((await store.endpointState('gone')).disabled ? true : undefined),
      5_000,
      'disabled',
    );
    expect((await store.endpointState('gone')).disabledReason).toContain('410');
    const seen = receiver.at('/gone').length;
    const later = await submitted();
    await arrival('/crm', about(later));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.at('/gone')).toHaveLength(seen);
    const reasons = await eventually(
      async () => {
        const found = (await stack.receive(stack.webhooks?.deadLetterQueueUrl ?? '')).map(
          (m) => m.attributes[ATTRIBUTE.reason],
        );
        return found.includes('the endpoint answered 410 Gone') ? found : undefined;
      },
      5_000,
      'the 410 dead letter',
    );
    expect(reasons.some((reason) => reason?.startsWith('the endpoint is disabled'))).toBe(true);

    // `postroom webhooks enable`: the next event goes out again.
    receiver.script('/gone', [{ status: 200 }]);
    await store.enable('gone', new Date().toISOString());
    const afterEnable = await submitted();
    expect((await arrival('/gone', about(afterEnable))).verified).toBeDefined();
  });

  it('honours Retry-After on 429 and retries with the same webhook-id and a new timestamp', async () => {
    await store.enable('busy', new Date().toISOString());
    receiver.answerByAttempt('/busy', (attempt) =>
      attempt === 1 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 },
    );
    const id = await submitted();
    const attempts = await eventually(
      async () => {
        const hooks = receiver.at('/busy').filter(about(id));
        return hooks.length >= 2 ? hooks : undefined;
      },
      15_000,
      'a second attempt',
    );
    const [first, second] = attempts as [ReceivedWebhook, ReceivedWebhook];
    // The schedule says 1 s; the receiver asked for 3.
    expect(second.at - first.at).toBeGreaterThanOrEqual(2_900);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(Number(second.headers['webhook-timestamp'])).toBeGreaterThan(
      Number(first.headers['webhook-timestamp']),
    );
    expect(second.verified).toBeDefined();
    const record = await eventually(
      async () => {
        const found = await store.event(String(first.headers['webhook-id']), 'busy');
        return found && found.attempts.length >= 2 ? found : undefined;
      },
      5_000,
      'two recorded attempts',
    );
    expect(record.attempts.map((a) => [a.status, a.outcome])).toEqual([
      [429, 'retry'],
      [200, 'delivered'],
    ]);
  });

  it('does not follow a 3xx: the attempt fails, the target is never called, the schedule ends in the DLQ', async () => {
    const id = await submitted();
    const eventId = String((await arrival('/moved', about(id))).headers['webhook-id']);
    const record = await eventually(
      async () => {
        const found = await store.event(eventId, 'moved');
        return found && found.attempts.length >= SCHEDULE.length ? found : undefined;
      },
      15_000,
      'every attempt',
    );
    expect(record.attempts.map((a) => a.status)).toEqual([302, 302, 302]);
    expect(record.attempts.at(-1)?.outcome).toBe('dead-letter');
    expect(record.attempts[0]?.answer).toContain('answer 302');
    expect(receiver.at('/moved-target')).toEqual([]);
  });

  it('replays an event with the same webhook-id and a new timestamp', async () => {
    const id = await submitted();
    const original = await arrival('/crm', about(id));
    const eventId = String(original.headers['webhook-id']);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const queued = await replayWebhookEvent(eventId, {
      webhooks: [
        {
          id: 'crm',
          url: `${receiver.url}/crm`,
          events: ['submission.received'],
          includeSpam: false,
          secret: 'crm',
        },
      ],
      read: (event, endpoint) => store.event(event, endpoint).then((record) => record?.message),
      queue: new SqsWebhookQueue(stack.sqs, stack.webhooks?.queueUrl ?? ''),
    });
    expect(queued).toHaveLength(1);
    const replayed = await eventually(
      async () => {
        const hooks = receiver.at('/crm').filter((h) => h.headers['webhook-id'] === eventId);
        return hooks.length >= 2 ? hooks[1] : undefined;
      },
      10_000,
      'the replay',
    );
    expect(replayed.body).toBe(original.body);
    expect(Number(replayed.headers['webhook-timestamp'])).toBeGreaterThan(
      Number(original.headers['webhook-timestamp']),
    );
    expect(replayed.verified).toBeDefined();
  });

  /**
   * `postroom webhooks ...` on the test stack. The CLI reads the endpoints from a configuration file of the
   * test's own (the fixture's settings with the endpoints), never the project's cdk.json.
   */
  function webhooksCli() {
    const dir = mkdtempSync(path.join(tmpdir(), 'postroom-webhooks-'));
    const configPath = path.join(dir, 'postroom.webhooks.json');
    writeFileSync(configPath, JSON.stringify({ ...shippedConfigInput(), webhooks }));
    return (...argv: string[]) =>
      runCliCaptured([
        'webhooks',
        ...argv,
        '--config',
        configPath,
        '--dynamodb-endpoint',
        stack.endpoints.dynamodb,
        '--sqs-endpoint',
        stack.endpoints.sqs,
      ]);
  }

  it('replays every event of one endpoint since a time with the CLI: replay --endpoint ID --since 2h', async () => {
    // Prepare: two submissions spam received (it takes every submission of the contact form)
    const cli = webhooksCli();
    await store.enable('spam', new Date().toISOString());
    const ids = [await submitted(), await submitted()];
    const originals = await Promise.all(ids.map((id) => arrival('/spam', about(id))));
    const eventIds = originals.map((hook) => String(hook.headers['webhook-id']));
    await eventually(
      async () =>
        (await Promise.all(eventIds.map((e) => store.event(e, 'spam')))).every(Boolean) ? true : undefined,
      5_000,
      'the attempt records',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    // Act
    const run = await cli('replay', '--endpoint', 'spam', '--since', '2h');

    // Assess: each queued again, received a second time with its webhook-id, a newer timestamp, verified
    expect(run.code).toBe(0);
    for (const eventId of eventIds) expect(run.out).toContain(`Queued ${eventId} (submission.received`);
    expect(run.out).toMatch(/\d+ events? of spam since .* queued again/);
    for (const [index, eventId] of eventIds.entries()) {
      const replayed = await eventually(
        async () => receiver.at('/spam').filter((h) => h.headers['webhook-id'] === eventId)[1],
        10_000,
        'the replay',
      );
      expect(replayed.body).toBe(originals[index]?.body);
      expect(Number(replayed.headers['webhook-timestamp'])).toBeGreaterThan(
        Number(originals[index]?.headers['webhook-timestamp']),
      );
      expect(replayed.verified).toBeDefined();
    }
    // Nothing of another endpoint: crm got each submission once, not again.
    const atCrm = receiver
      .at('/crm')
      .filter((h) => about(ids[0] ?? '')(h) && h.verified?.type === 'submission.received');
    expect(atCrm).toHaveLength(1);
  });

  it('refuses replay --since for an unknown or disabled endpoint, and a URL given as --endpoint', async () => {
    // Prepare
    const cli = webhooksCli();
    await store.disable('moved', 'the endpoint answered 410 Gone', new Date().toISOString());

    // Act & Assess
    const disabled = await cli('replay', '--endpoint', 'moved', '--since', '2h');
    expect(disabled.code).toBe(1);
    expect(disabled.err).toContain('postroom webhooks enable moved');
    expect((await cli('replay', '--endpoint', 'nope', '--since', '2h')).code).toBe(2);
    expect((await cli('replay', '--endpoint', 'crm', '--since', '15d')).err).toContain('14 days');
    expect((await cli('replay', '--endpoint', 'crm')).code).toBe(2);
    const url = await runCliCaptured(['webhooks', 'list', '--endpoint', stack.endpoints.dynamodb]);
    expect(url.code).toBe(2);
    expect(url.err).toContain(`--dynamodb-endpoint ${stack.endpoints.dynamodb}`);
    await store.enable('moved', new Date().toISOString());
  });

  it('operates the endpoints with the CLI: list, attempts, enable, test, replay', async () => {
    // Prepare
    const cli = webhooksCli();
    // Every endpoint enabled, whatever earlier tests did, but busy, disabled as a 410 would
    receiver.script('/gone', [{ status: 204 }]);
    for (const endpoint of ['crm', 'spam', 'gone', 'moved', 'sched', 'contact-mail'])
      await store.enable(endpoint, new Date().toISOString());
    const id = await submitted();
    const eventId = String((await arrival('/crm', about(id))).headers['webhook-id']);
    await store.disable('busy', 'the endpoint answered 410 Gone', new Date().toISOString());

    // Act & Assess
    const listed = await cli('list');
    expect(listed.code).toBe(1);
    expect(listed.out).toMatch(/busy\s+disabled: the endpoint answered 410 Gone/);
    const attempts = await eventually(
      async () => {
        const run = await cli('attempts', eventId);
        return run.code === 0 ? run : undefined;
      },
      5_000,
      'recorded attempts',
    );
    expect(attempts.out).toMatch(/crm\s+\S+\s+204\s+\d+ ms\s+delivered/);
    expect((await cli('attempts', 'msg_nothing')).code).toBe(1);
    expect((await cli('enable', 'busy')).code).toBe(0);
    expect((await cli('list')).code).toBe(0);

    const tested = await cli('test', 'crm');
    expect(tested.code).toBe(0);
    const testId = /Queued (msg_\w+)/.exec(tested.out)?.[1];
    const testHook = await arrival('/crm', (h) => h.headers['webhook-id'] === testId);
    expect(testHook.verified).toMatchObject({ type: 'webhook.test', data: { endpointId: 'crm' } });

    const replayed = await cli('replay', eventId, 'crm');
    expect(replayed.code).toBe(0);
    await eventually(
      async () => {
        const hooks = receiver.at('/crm').filter((h) => h.headers['webhook-id'] === eventId);
        return hooks.length >= 2 ? true : undefined;
      },
      10_000,
      'the replay',
    );
    expect((await cli('replay', eventId, 'nope')).code).toBe(2);
  });
});
