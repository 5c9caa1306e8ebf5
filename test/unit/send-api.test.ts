import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../functions/core/api/api-keys';
import {
  getMessage,
  renderTemplatePreview,
  type SendApiDeps,
  sendBatch,
  sendMessage,
} from '../../functions/core/api/send-api';
import type { HttpRequest } from '../../functions/core/http';
import { mailJobSchema } from '../../functions/core/mail/mail-job';
import { type CompiledTemplates, catalogOf } from '../../functions/core/templates/catalog';
import { createSendHandler } from '../../functions/send/app';
import { shippedConfig } from '../fakes/config';
import {
  FakeClock,
  MemoryApiKeyStore,
  MemoryGuardStore,
  MemoryMailQueue,
  MemoryMessageStore,
  MemorySuppressionList,
  RecordingLog,
  RecordingMetrics,
  sequentialIds,
} from '../fakes/ports';
import { shippedCatalog, shippedTemplates } from '../support/templates';

const ID_1 = '11111111-1111-4111-8111-111111111111';
const ID_2 = '22222222-2222-4222-8222-222222222222';
const ID_3 = '33333333-3333-4333-8333-333333333333';
const KEY = 'pr_test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const OTHER_KEY = 'pr_other-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const REVOKED_KEY = 'pr_revoked-key-cccccccccccccccccccccccccccccccccccc';

function setup() {
  const apiKeys = new MemoryApiKeyStore();
  apiKeys.add(KEY, 'key_main');
  apiKeys.add(OTHER_KEY, 'key_other');
  apiKeys.add(REVOKED_KEY, 'key_revoked', true);
  return {
    config: shippedConfig(),
    queue: new MemoryMailQueue(),
    clock: new FakeClock(Date.UTC(2025, 0, 15, 12, 0, 0)),
    newId: sequentialIds(ID_1, ID_2, ID_3),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    guards: new MemoryGuardStore(),
    apiKeys,
    messages: new MemoryMessageStore(),
    suppression: new MemorySuppressionList(),
    templates: shippedCatalog,
  } satisfies SendApiDeps;
}

const MESSAGE = {
  from: 'Billing <billing@example.com>',
  to: 'customer@example.org',
  subject: 'Your receipt',
  text: 'Thank you for your order.',
};

function request(body: unknown, headers: Record<string, string> = {}, key: string | null = KEY): HttpRequest {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...headers,
    },
    body: Buffer.from(JSON.stringify(body)),
    sourceIp: '203.0.113.7',
  };
}

function json(response: { body: string }) {
  return JSON.parse(response.body);
}

describe('Core: API keys', () => {
  it('creates pr_ keys of 32 random bytes and keeps only their SHA-256', () => {
    // Act
    const { key, record } = generateApiKey(new Date(0), 'ci');

    // Assess
    expect(key).toMatch(/^pr_[A-Za-z0-9_-]{43}$/);
    expect(record.hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(record)).not.toContain(key.slice(3));
    expect(record).toMatchObject({ name: 'ci', revoked: false, createdAt: '1970-01-01T00:00:00.000Z' });
    expect(generateApiKey(new Date(0)).key).not.toBe(key);
  });

  it.each([
    ['no Authorization header', null],
    ['an unknown key', 'pr_unknown'],
    ['a revoked key', REVOKED_KEY],
  ])('answers 401 problem+json with WWW-Authenticate: Bearer for %s', async (_, key) => {
    // Prepare
    const deps = setup();

    // Act
    const response = await sendMessage(request(MESSAGE, {}, key), deps);

    // Assess
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(json(response)).toMatchObject({ status: 401, title: 'Unauthorized' });
    expect(deps.queue.jobs).toHaveLength(0);
    expect(deps.metrics.byDimension()).toEqual({ 'SubmissionRejected{reason=unauthorized}': 1 });
  });

  it('says a revoked key was revoked, and an unknown key is not known, not that it was revoked', async () => {
    // Prepare
    const deps = setup();

    // Act
    const unknown = json(await sendMessage(request(MESSAGE, {}, 'pr_never-created'), deps));
    const revoked = json(await sendMessage(request(MESSAGE, {}, REVOKED_KEY), deps));

    // Assess
    expect(unknown.detail).toBe(
      'The API key is not known to this stack: check that it was created for this stack.',
    );
    expect(revoked.detail).toBe('The API key was revoked.');
  });

  it('answers 401 to a Basic Authorization header', async () => {
    // Prepare
    const deps = setup();

    // Act
    const response = await sendMessage(request(MESSAGE, { authorization: `Basic ${KEY}` }, null), deps);

    // Assess
    expect(response.status).toBe(401);
  });

  it('answers 429 once an IP has failed 10 times in a minute, while a good key still works', async () => {
    // Prepare
    const deps = setup();
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect((await sendMessage(request(MESSAGE, {}, 'pr_wrong'), deps)).status).toBe(401);
    }

    // Act
    const limited = await sendMessage(request(MESSAGE, {}, 'pr_wrong'), deps);
    const good = await sendMessage(request(MESSAGE), deps);

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.headers['ratelimit-policy']).toBe('"failed-auth";q=10;w=60');
    expect(limited.headers.ratelimit).toBe('"failed-auth";r=0;t=60');
    expect(good.status).toBe(202);
  });

  it('answers 503 when the key store cannot be reached', async () => {
    // Prepare
    const deps = setup();
    deps.apiKeys.findByHash = () => Promise.reject(new Error('down'));

    // Act
    const response = await sendMessage(request(MESSAGE), deps);

    // Assess
    expect(response.status).toBe(503);
  });
});

describe('Core: sendMessage', () => {
  it('queues an api job with cc, bcc, headers and tags, records queued with its key, answers 202', async () => {
    // Prepare
    const deps = setup();
    const body = {
      ...MESSAGE,
      to: ['a@example.org', 'b@example.org'],
      cc: 'c@example.org',
      bcc: ['hidden@example.net'],
      replyTo: 'support@example.com',
      html: '<p>Thanks</p>',
      headers: { 'list-unsubscribe': '<https://example.com/u/1>', 'X-Entity-Ref-ID': 'order-42' },
      tags: [{ name: 'category', value: 'receipt' }],
    };

    // Act
    const response = await sendMessage(request(body), deps);

    // Assess
    expect(response.status).toBe(202);
    expect(json(response)).toEqual({ id: ID_1 });
    const [job] = deps.queue.jobs;
    expect(mailJobSchema.parse(job)).toEqual({
      v: 1,
      id: ID_1,
      source: { kind: 'api', keyId: 'key_main' },
      createdAt: '2025-01-15T12:00:00.000Z',
      from: { name: 'Billing', address: 'billing@example.com' },
      to: ['a@example.org', 'b@example.org'],
      cc: ['c@example.org'],
      bcc: ['hidden@example.net'],
      replyTo: 'support@example.com',
      subject: 'Your receipt',
      text: 'Thank you for your order.',
      html: '<p>Thanks</p>',
      headers: { 'List-Unsubscribe': '<https://example.com/u/1>', 'X-Entity-Ref-ID': 'order-42' },
      tags: [{ name: 'category', value: 'receipt' }],
    });
    expect(deps.messages.records.get(ID_1)).toMatchObject({ status: 'queued', keyId: 'key_main' });
  });

  it.each([
    ['a From at another domain', { from: 'ceo@evil.example' }, 'from'],
    ['a From that is a list', { from: 'a@example.com, b@example.com' }, 'from'],
    ['no recipient', { to: [] }, 'to'],
    ['a recipient with two @', { to: ['a@b@example.org'] }, 'to[0]'],
    ['a cc with a line break', { cc: 'x@example.org\r\nBcc: y@example.org' }, 'cc[0]'],
    ['neither text nor html', { text: undefined }, 'text'],
    ['a two-line subject', { subject: 'Hi\r\nBcc: x@example.org' }, 'subject'],
    ['a header not on the allow-list', { headers: { Bcc: 'x@example.org' } }, 'headers.Bcc'],
    [
      'a header value with CRLF',
      { headers: { 'List-Unsubscribe': '<a>\r\nBcc: x@e.org' } },
      'headers.List-Unsubscribe',
    ],
    ['a tag with a space', { tags: [{ name: 'a b', value: 'c' }] }, 'tags[0].name'],
    ['an unknown field', { priority: 'high' }, '(body)'],
    // Encoded-words in addresses (RFC 2047 section 5 forbids them; see address.ts)
    ['an encoded-word in to', { to: '=?utf-8?q?attacker=40evil.example?=@example.org' }, 'to[0]'],
    [
      'an encoded-word in cc',
      { cc: ['ok@example.org', '=?x?b?YUBldmlsLmV4YW1wbGU=?=@example.org'] },
      'cc[1]',
    ],
    ['an encoded-word in bcc', { bcc: '=?utf-7?q?a+AEA-evil.example?=@example.org' }, 'bcc[0]'],
    ['an encoded-word in replyTo', { replyTo: 'a=?utf-8?q?=40evil.example=3e?=@example.org' }, 'replyTo'],
    ['an encoded-word in from', { from: '=?utf-8?q?billing=40evil.example?=@example.com' }, 'from'],
    ['an encoded-word in the name of from', { from: '=?utf-8?b?QWRtaW4=?= <billing@example.com>' }, 'from'],
    ['a fullwidth @ in to', { to: 'attacker\uff20evil.example@example.org' }, 'to[0]'],
    // Text no mail can carry (text.ts)
    ['a lone surrogate in the text', { text: 'Thanks \ud83d' }, 'text'],
    ['a noncharacter in the html', { html: '<p>\ufdd0</p>' }, 'html'],
    ['U+FFFE in the subject', { subject: 'Receipt \ufffe' }, 'subject'],
    ['a lone surrogate in the name of from', { from: 'Billing \udc00 <billing@example.com>' }, 'from'],
    ['a noncharacter in a header', { headers: { 'X-Entity-Ref-ID': 'a\uffff' } }, 'headers.X-Entity-Ref-ID'],
    ['NUL in the text', { text: 'Thanks\u0000' }, 'text'],
    ['a form feed in the html', { html: '<p>a\u000cb</p>' }, 'html'],
  ])('answers 422 naming the field for %s', async (_, change, field) => {
    // Prepare
    const deps = setup();

    // Act
    const response = await sendMessage(request({ ...MESSAGE, ...change }), deps);

    // Assess
    expect(response.status).toBe(422);
    expect(json(response).errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(deps.queue.jobs).toHaveLength(0);
  });

  it('answers 422 when to, cc and bcc together exceed 50 recipients', async () => {
    // Prepare
    const deps = setup();
    const many = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i) => `${prefix}${i}@example.org`);

    // Act
    const response = await sendMessage(
      request({ ...MESSAGE, to: many('to', 20), cc: many('cc', 20), bcc: many('bcc', 11) }),
      deps,
    );

    // Assess
    expect(response.status).toBe(422);
    expect(json(response).errors[0].detail).toMatch(/at most 50 recipients/);
  });

  it('answers 415 to a body that is not JSON and 400 to broken JSON', async () => {
    // Prepare
    const deps = setup();
    const broken = { ...request(MESSAGE), body: Buffer.from('{"from":') };

    // Act & Assess
    expect((await sendMessage(request(MESSAGE, { 'content-type': 'text/plain' }), deps)).status).toBe(415);
    expect((await sendMessage(broken, deps)).status).toBe(400);
  });

  it('answers 503 and records failed when the queue cannot be reached', async () => {
    // Prepare
    const deps = setup();
    deps.queue.enqueueError = new Error('queue down');

    // Act
    const response = await sendMessage(request(MESSAGE), deps);

    // Assess
    expect(response.status).toBe(503);
    expect(deps.messages.statuses(ID_1)).toEqual(['queued', 'failed']);
  });

  it('answers 202 and queues the message once when the status store fails: the enqueue decides', async () => {
    // Prepare
    const deps = setup();
    deps.messages.failing = true;

    // Act
    const response = await sendMessage(request(MESSAGE), deps);

    // Assess
    expect(response.status).toBe(202);
    expect(json(response)).toEqual({ id: ID_1 });
    expect(deps.queue.jobs.map((job) => job.id)).toEqual([ID_1]);
    expect(deps.log.entries.some((entry) => entry.attributes.outcome === 'status-failed')).toBe(true);
    expect(deps.metrics.counts.get('MailAccepted')).toBe(1);
  });

  it('enqueues while the queued status is being written, not after it', async () => {
    // Prepare: a slow status write, which notes whether the job reached the queue while it was under way.
    const deps = setup();
    const messages = new MemoryMessageStore();
    const write = messages.recordInitial.bind(messages);
    let queuedMeanwhile = false;
    messages.recordInitial = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      queuedMeanwhile = deps.queue.jobs.length > 0;
      await write(...args);
    };

    // Act
    const response = await sendMessage(request(MESSAGE), { ...deps, messages });

    // Assess
    expect(response.status).toBe(202);
    expect(queuedMeanwhile).toBe(true);
    expect(messages.statuses(ID_1)).toEqual(['queued']);
    expect(messages.records.get(ID_1)?.keyId).toBe('key_main');
  });
});

describe('Core: Idempotency-Key', () => {
  it('answers a replay with the same id and queues nothing new', async () => {
    // Prepare
    const deps = setup();
    const headers = { 'idempotency-key': 'order-42-receipt' };

    // Act
    const first = await sendMessage(request(MESSAGE, headers), deps);
    const again = await sendMessage(request(MESSAGE, headers), deps);

    // Assess
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(json(again)).toEqual({ id: ID_1 });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('answers 422 naming the header when the key comes back with another payload', async () => {
    // Prepare
    const deps = setup();
    const headers = { 'idempotency-key': 'order-42-receipt' };
    await sendMessage(request(MESSAGE, headers), deps);

    // Act
    const response = await sendMessage(request({ ...MESSAGE, subject: 'Other' }, headers), deps);

    // Assess
    expect(response.status).toBe(422);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(json(response)).toMatchObject({ status: 422, errors: [{ field: 'Idempotency-Key' }] });
    expect(deps.queue.jobs).toHaveLength(1);
    expect(deps.metrics.byDimension()).toEqual({ 'SubmissionRejected{reason=conflict}': 1 });
  });

  it('answers 409 with Retry-After to the same key while the first request is still in flight', async () => {
    // Prepare: the first request's enqueue waits until released.
    const deps = setup();
    const headers = { 'idempotency-key': 'slow-queue' };
    let release = () => {};
    const enqueue = deps.queue.enqueue.bind(deps.queue);
    deps.queue.enqueue = (job, correlationId) =>
      new Promise<void>((resolve) => {
        release = resolve;
      }).then(() => enqueue(job, correlationId));
    const first = sendMessage(request(MESSAGE, headers), deps);
    await new Promise((resolve) => setTimeout(resolve, 10));

    // Act
    const concurrent = await sendMessage(request(MESSAGE, headers), deps);
    release();
    const done = await first;
    const after = await sendMessage(request(MESSAGE, headers), deps);

    // Assess
    expect(concurrent.status).toBe(409);
    expect(concurrent.headers['retry-after']).toBe('1');
    expect(json(concurrent)).toMatchObject({ status: 409, errors: [{ field: 'Idempotency-Key' }] });
    expect(done.status).toBe(202);
    expect(after.status).toBe(202);
    expect(json(after)).toEqual({ id: ID_1 });
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('replays a request whose completion mark was lost once it can no longer be in flight (30 s)', async () => {
    // Prepare
    const deps = setup();
    const headers = { 'idempotency-key': 'lost-mark' };
    const increment = deps.guards.increment.bind(deps.guards);
    deps.guards.increment = (key, expiresAt, by) =>
      key.endsWith('#done') && by !== 0 ? Promise.reject(new Error('down')) : increment(key, expiresAt, by);
    await sendMessage(request(MESSAGE, headers), deps);

    // Act
    const soon = await sendMessage(request(MESSAGE, headers), deps);
    deps.clock.advance(30_000);
    const later = await sendMessage(request(MESSAGE, headers), deps);

    // Assess
    expect(soon.status).toBe(409);
    expect(later.status).toBe(202);
    expect(json(later)).toEqual({ id: ID_1 });
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it("takes the quoted form of a key (the draft's sf-string) as the same key", async () => {
    // Prepare
    const deps = setup();
    await sendMessage(request(MESSAGE, { 'idempotency-key': 'order-7' }), deps);

    // Act
    const quoted = await sendMessage(request(MESSAGE, { 'idempotency-key': '"order-7"' }), deps);

    // Assess
    expect(json(quoted)).toEqual({ id: ID_1 });
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('scopes the key to the API key: another API key with the same Idempotency-Key sends its own mail', async () => {
    // Prepare
    const deps = setup();
    const headers = { 'idempotency-key': 'shared' };

    // Act
    await sendMessage(request(MESSAGE, headers), deps);
    const other = await sendMessage(request(MESSAGE, headers, OTHER_KEY), deps);

    // Assess
    expect(json(other)).toEqual({ id: ID_2 });
    expect(deps.queue.jobs).toHaveLength(2);
  });

  it('forgets the key when the enqueue failed, so the retry sends', async () => {
    // Prepare
    const deps = setup();
    const headers = { 'idempotency-key': 'retry-me' };
    deps.queue.enqueueError = new Error('queue down');
    expect((await sendMessage(request(MESSAGE, headers), deps)).status).toBe(503);
    deps.queue.enqueueError = undefined;

    // Act
    const retry = await sendMessage(request(MESSAGE, headers), deps);

    // Assess
    expect(retry.status).toBe(202);
    expect(json(retry)).toEqual({ id: ID_2 });
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('remembers the key for 24 hours only', async () => {
    // Prepare
    const deps = setup();
    const headers = { 'idempotency-key': 'daily' };
    await sendMessage(request(MESSAGE, headers), deps);
    deps.clock.advance(86_400_000);

    // Act
    const later = await sendMessage(request({ ...MESSAGE, subject: 'Next day' }, headers), deps);

    // Assess
    expect(later.status).toBe(202);
    expect(deps.queue.jobs).toHaveLength(2);
  });

  it.each([
    ['an empty key', ''],
    ['a key with a line break', 'a\nb'],
    ['a 257-character key', 'k'.repeat(257)],
  ])('answers 400 naming the header to %s', async (_, value) => {
    // Act
    const response = await sendMessage(request(MESSAGE, { 'idempotency-key': value }), setup());

    // Assess
    expect(response.status).toBe(400);
    expect(json(response)).toMatchObject({ status: 400, errors: [{ field: 'Idempotency-Key' }] });
  });

  it('accepts a key of 256 characters', async () => {
    // Act
    const response = await sendMessage(request(MESSAGE, { 'idempotency-key': 'k'.repeat(256) }), setup());

    // Assess
    expect(response.status).toBe(202);
  });
});

describe('Core: getMessage', () => {
  it('shows the status and history of a message sent with this key', async () => {
    // Prepare
    const deps = setup();
    await sendMessage(request(MESSAGE), deps);
    await deps.messages.record(ID_1, { status: 'sent', at: '2025-01-15T12:00:01.000Z', detail: 'ses-1' });

    // Act
    const response = await getMessage(ID_1, { ...request(null), method: 'GET' }, deps);

    // Assess
    expect(response.status).toBe(200);
    expect(json(response)).toEqual({
      id: ID_1,
      status: 'sent',
      history: [
        { status: 'queued', at: '2025-01-15T12:00:00.000Z' },
        { status: 'sent', at: '2025-01-15T12:00:01.000Z', detail: 'ses-1' },
      ],
    });
  });

  it('answers 404 for another key, for a form message and for an unknown id', async () => {
    // Prepare
    const deps = setup();
    await sendMessage(request(MESSAGE), deps);
    await deps.messages.record(ID_2, { status: 'queued', at: '2025-01-15T12:00:00.000Z' });

    // Act & Assess
    expect((await getMessage(ID_1, request(null, {}, OTHER_KEY), deps)).status).toBe(404);
    expect((await getMessage(ID_2, request(null), deps)).status).toBe(404);
    expect((await getMessage(ID_3, request(null), deps)).status).toBe(404);
    expect((await getMessage('../etc', request(null), deps)).status).toBe(404);
  });

  it('answers 401 without a key', async () => {
    expect((await getMessage(ID_1, request(null, {}, null), setup())).status).toBe(401);
  });
});

describe('Core: sendBatch', () => {
  it('queues the valid messages and lists errors for the others, with status 200', async () => {
    // Prepare
    const deps = setup();
    const body = {
      messages: [MESSAGE, { ...MESSAGE, from: 'x@evil.example' }, { ...MESSAGE, to: 'b@example.org' }],
    };

    // Act
    const response = await sendBatch(request(body), deps);

    // Assess
    expect(response.status).toBe(200);
    expect(json(response)).toEqual({
      results: [
        { index: 0, id: ID_1 },
        {
          index: 1,
          errors: [{ field: 'from', detail: 'must be an address at example.com, the sending domain' }],
        },
        { index: 2, id: ID_2 },
      ],
    });
    expect(deps.queue.jobs.map((job) => job.to)).toEqual([['customer@example.org'], ['b@example.org']]);
  });

  it.each([
    ['no messages', { messages: [] }],
    ['101 messages', { messages: Array.from({ length: 101 }, () => MESSAGE) }],
    ['an empty list', []],
    ['a body that is a string', 'hello'],
  ])('answers 422 to %s', async (_, body) => {
    // Act
    const response = await sendBatch(request(body), setup());

    // Assess
    expect(response.status).toBe(422);
  });

  it('takes a bare list of messages, as Resend and Postmark do', async () => {
    // Prepare
    const deps = setup();

    // Act
    const response = await sendBatch(request([MESSAGE, { ...MESSAGE, to: 'not an address' }]), deps);

    // Assess
    expect(response.status).toBe(200);
    expect(json(response).results).toEqual([
      { index: 0, id: ID_1 },
      { index: 1, errors: [expect.objectContaining({ field: 'to[0]' })] },
    ]);
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('refuses an Idempotency-Key rather than ignoring it', async () => {
    // Act
    const response = await sendBatch(request({ messages: [MESSAGE] }, { 'idempotency-key': 'x' }), setup());

    // Assess
    expect(response.status).toBe(400);
  });
});

describe('Core: suppression list on /v1/send and /v1/send/batch', () => {
  const suppress = (deps: ReturnType<typeof setup>, address: string) =>
    deps.suppression.add({ address, reason: 'bounce', at: '2025-01-01T00:00:00.000Z' });

  it('refuses suppressed to, cc and bcc recipients with 422, one error per address naming its field', async () => {
    // Prepare
    const deps = setup();
    await suppress(deps, 'gone@example.org');
    await suppress(deps, 'spam-button@example.net');
    const body = {
      ...MESSAGE,
      to: ['ok@example.org', 'Gone@Example.org'],
      cc: 'spam-button@example.net',
      bcc: 'gone@example.org',
    };

    // Act
    const response = await sendMessage(request(body), deps);

    // Assess
    expect(response.status).toBe(422);
    expect(json(response).errors).toEqual([
      {
        field: 'to',
        detail: 'Gone@example.org is on the suppression list (it bounced permanently or complained)',
      },
      {
        field: 'cc',
        detail: 'spam-button@example.net is on the suppression list (it bounced permanently or complained)',
      },
      {
        field: 'bcc',
        detail: 'gone@example.org is on the suppression list (it bounced permanently or complained)',
      },
    ]);
    expect(deps.queue.jobs).toHaveLength(0);
    expect(deps.messages.records.size).toBe(0);
    // A 422 like a validation failure, counted apart: a rising count means the sender's lists need cleaning.
    expect(deps.metrics.byDimension()).toEqual({ 'SubmissionRejected{reason=suppressed}': 1 });
  });

  it('answers 503 and queues nothing when the suppression list cannot be read', async () => {
    // Prepare
    const deps = setup();
    deps.suppression.failing = true;

    // Act
    const response = await sendMessage(request(MESSAGE), deps);

    // Assess
    expect(response.status).toBe(503);
    expect(deps.queue.jobs).toHaveLength(0);
  });

  it('forgets the Idempotency-Key of a refused request, and still replays one accepted before the suppression', async () => {
    // Prepare
    const deps = {
      ...setup(),
      newId: sequentialIds(ID_1, ID_2, ID_3, '44444444-4444-4444-8444-444444444444'),
    };
    const accepted = await sendMessage(request(MESSAGE, { 'idempotency-key': 'before' }), deps);
    await suppress(deps, MESSAGE.to);

    // Act
    const replay = await sendMessage(request(MESSAGE, { 'idempotency-key': 'before' }), deps);
    const refused = await sendMessage(request(MESSAGE, { 'idempotency-key': 'after' }), deps);
    deps.suppression.entries.clear();
    const retried = await sendMessage(request(MESSAGE, { 'idempotency-key': 'after' }), deps);

    // Assess
    expect(json(replay)).toEqual(json(accepted));
    expect(refused.status).toBe(422);
    expect(retried.status).toBe(202);
    expect(deps.queue.jobs).toHaveLength(2);
  });

  it('refuses only the batch messages with a suppressed recipient', async () => {
    // Prepare
    const deps = setup();
    await suppress(deps, 'gone@example.org');
    const body = { messages: [MESSAGE, { ...MESSAGE, cc: 'gone@example.org' }] };

    // Act
    const response = await sendBatch(request(body), deps);

    // Assess
    expect(response.status).toBe(200);
    expect(json(response).results).toEqual([
      { index: 0, id: ID_1 },
      {
        index: 1,
        errors: [
          {
            field: 'cc',
            detail: 'gone@example.org is on the suppression list (it bounced permanently or complained)',
          },
        ],
      },
    ]);
    expect(deps.queue.jobs).toHaveLength(1);
  });
});

describe('Core: attachments on /v1/send', () => {
  const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n', 'latin1'), Buffer.alloc(100, 0x20)]);
  const file = (overrides: Record<string, unknown> = {}) => ({
    filename: 'receipt.pdf',
    contentType: 'application/pdf',
    content: PDF.toString('base64'),
    ...overrides,
  });

  it('carries a small attachment inside the job, byte for byte', async () => {
    const deps = setup();

    const response = await sendMessage(request({ ...MESSAGE, attachments: [file()] }), deps);

    expect(response.status).toBe(202);
    expect(deps.queue.jobs[0]?.attachments).toEqual([
      {
        filename: 'receipt.pdf',
        contentType: 'application/pdf',
        size: PDF.length,
        content: PDF.toString('base64'),
      },
    ]);
  });

  it.each([
    ['content that is not base64', { content: 'not base64!' }, 'attachments[0].content'],
    [
      'bytes that are not the declared type',
      { content: Buffer.from('GIF89a').toString('base64') },
      'attachments[0].content',
    ],
    ['a file name with a path', { filename: '../receipt.pdf' }, 'attachments[0].filename'],
    ['a content type that is not a MIME type', { contentType: 'pdf' }, 'attachments[0].contentType'],
  ])('answers 422 for %s, naming the field', async (_, overrides, field) => {
    const deps = setup();

    const response = await sendMessage(request({ ...MESSAGE, attachments: [file(overrides)] }), deps);

    expect(response.status).toBe(422);
    expect(
      (JSON.parse(response.body) as { errors: Array<{ field: string }> }).errors.map((e) => e.field),
    ).toEqual([field]);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('binds an Idempotency-Key to the attachment bytes too', async () => {
    const deps = setup();
    const first = await sendMessage(
      request({ ...MESSAGE, attachments: [file()] }, { 'idempotency-key': 'inv-1' }),
      deps,
    );
    const other = Buffer.concat([PDF, Buffer.from('x')]).toString('base64');

    const changed = await sendMessage(
      request({ ...MESSAGE, attachments: [file({ content: other })] }, { 'idempotency-key': 'inv-1' }),
      deps,
    );

    expect(first.status).toBe(202);
    expect(changed.status).toBe(422);
  });
});

describe('Core: send API with templates', () => {
  let templates: CompiledTemplates;
  beforeAll(async () => {
    templates = await shippedTemplates();
  });

  const TEMPLATED = {
    from: 'Accounts <accounts@example.com>',
    to: 'ada@example.org',
    template: {
      id: 'welcome',
      variables: { name: 'Ada & Co', actionUrl: 'https://example.com/start?a=1&b=2' },
    },
  };

  it('renders the template into the queued job, and the status names the template and its version', async () => {
    // Prepare
    const deps = { ...setup(), templates: catalogOf(templates) };

    // Act
    const response = await sendMessage(request(TEMPLATED), deps);

    // Assess
    expect(response.status).toBe(202);
    const job = mailJobSchema.parse(deps.queue.jobs[0]);
    expect(job.subject).toBe('Welcome, Ada & Co');
    expect(job.html).toContain('Welcome, Ada &amp; Co');
    expect(job.html).toContain('href="https://example.com/start?a&#x3D;1&amp;b&#x3D;2"');
    expect(job.text).toContain('Welcome, Ada & Co');
    expect(deps.messages.records.get(ID_1)?.history[0]?.detail).toBe(
      `template welcome@${templates.welcome?.version}`,
    );
  });

  it("lets a given subject override the template's", async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    await sendMessage(request({ ...TEMPLATED, subject: 'Hello from us' }), deps);
    expect(deps.queue.jobs[0]?.subject).toBe('Hello from us');
  });

  it('returns 422 naming template.id for an unknown template, and queues nothing', async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    const response = await sendMessage(
      request({ ...TEMPLATED, template: { id: 'welcom', variables: {} } }),
      deps,
    );
    expect(response.status).toBe(422);
    expect(json(response).errors).toEqual([
      {
        field: 'template.id',
        detail:
          'is not a template (templates: form-autoresponse, form-notification, password-reset, receipt, welcome)',
      },
    ]);
    expect(deps.queue.jobs).toHaveLength(0);
    expect(deps.messages.records.size).toBe(0);
  });

  it('returns 422 with one entry per missing, unknown or mistyped variable, and queues nothing', async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    const response = await sendMessage(
      request({ ...TEMPLATED, template: { id: 'welcome', variables: { name: 42, colour: 'red' } } }),
      deps,
    );
    expect(response.status).toBe(422);
    expect(json(response).errors).toEqual([
      { field: 'template.variables.colour', detail: 'is not a variable of this template' },
      { field: 'template.variables.name', detail: 'must be a string' },
      { field: 'template.variables.actionUrl', detail: 'is required' },
    ]);
    expect(deps.queue.jobs).toHaveLength(0);
  });

  it('returns 422 for html or text given beside a template, and for a subject missing without one', async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    const both = await sendMessage(request({ ...TEMPLATED, html: '<p>x</p>' }), deps);
    const noSubject = await sendMessage(request({ ...MESSAGE, subject: undefined }), deps);
    expect(json(both).errors).toEqual([{ field: 'html', detail: 'must not be given with a template' }]);
    expect(json(noSubject).errors).toEqual([{ field: 'subject', detail: 'is required without a template' }]);
    expect(deps.queue.jobs).toHaveLength(0);
  });

  it('returns 422 on subject when the template renders a subject too long for a header line', async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    const long = {
      ...TEMPLATED,
      template: { id: 'welcome', variables: { name: 'a'.repeat(1_000), actionUrl: 'x' } },
    };
    const refused = await sendMessage(request(long), deps);
    const overridden = await sendMessage(request({ ...long, subject: 'Welcome' }), deps);
    expect(json(refused).errors).toEqual([
      {
        field: 'subject',
        detail: 'as the template renders it, Too big: expected string to have <=998 characters',
      },
    ]);
    expect(overridden.status).toBe(202);
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('renders each batch message on its own: a bad template fails its item only', async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    const response = await sendBatch(
      request({
        messages: [TEMPLATED, { ...TEMPLATED, template: { id: 'receipt', variables: { name: 'Ada' } } }],
      }),
      deps,
    );
    expect(json(response).results).toEqual([
      { index: 0, id: ID_1 },
      {
        index: 1,
        errors: [
          { field: 'template.variables.items', detail: 'is required' },
          { field: 'template.variables.total', detail: 'is required' },
        ],
      },
    ]);
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('renders without sending at POST /v1/templates/{id}/render, behind the API key', async () => {
    const deps = { ...setup(), templates: catalogOf(templates) };
    const variables = { name: 'Ada', resetUrl: 'https://example.com/r' };
    const ok = await renderTemplatePreview('password-reset', request({ variables }), deps);
    const unknown = await renderTemplatePreview('nope', request({ variables }), deps);
    const bad = await renderTemplatePreview('password-reset', request({ variables: {} }), deps);
    const anonymous = await renderTemplatePreview('password-reset', request({ variables }, {}, null), deps);

    expect(ok.status).toBe(200);
    expect(json(ok)).toMatchObject({
      subject: 'Reset your password',
      version: templates['password-reset']?.version,
    });
    expect(json(ok).text).toContain('works for 30 minutes');
    expect(json(ok).html).toContain('href="https://example.com/r"');
    expect(unknown.status).toBe(404);
    expect(bad.status).toBe(422);
    expect(anonymous.status).toBe(401);
    expect(deps.queue.jobs).toHaveLength(0);
  });
});

describe('API handler: the function timeout', () => {
  it('answers 503 "outcome unknown", never "not accepted", when the request runs out of time mid-enqueue', async () => {
    // Prepare: the queue takes 400 ms to take the job; the function has 150 ms left, so middy answers first
    const deps = setup();
    const enqueue = deps.queue.enqueue.bind(deps.queue);
    deps.queue.enqueue = async (job, correlationId) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      return enqueue(job, correlationId);
    };
    const handler = createSendHandler(deps);
    const event = {
      resource: '/v1/send',
      httpMethod: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(MESSAGE),
      isBase64Encoded: false,
      requestContext: { requestId: 'req-1', identity: { sourceIp: '203.0.113.7' } },
    } as unknown as APIGatewayProxyEvent;
    const context = { getRemainingTimeInMillis: () => 150 } as unknown as Context;

    // Act
    const response = await handler(event, context);
    await new Promise((resolve) => setTimeout(resolve, 400));

    // Assess: the mail was accepted after all, and the answer did not say otherwise
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body).detail).toMatch(/may or may not have been accepted/);
    expect(deps.queue.jobs).toHaveLength(1);
    expect(deps.log.entries.map((e) => e.message)).toContain(
      'request ran out of time; its outcome is unknown',
    );
  });
});
