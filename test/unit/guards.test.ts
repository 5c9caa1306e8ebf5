import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type SubmitFormDeps, submitForm } from '../../functions/core/forms/submit-form';
import type { HttpRequest, HttpResponse } from '../../functions/core/http';
import { configWith, shippedConfigInput } from '../fakes/config';
import {
  FakeClock,
  MemoryGuardStore,
  MemoryMailQueue,
  MemoryMessageStore,
  MemorySuppressionList,
  RecordingLog,
  RecordingMetrics,
} from '../fakes/ports';
import { shippedCatalog } from '../support/templates';

const BASE_FORM = (shippedConfigInput().forms as Array<Record<string, unknown>>)[0] ?? {};
// 12:00:00 UTC: a fixed window of 600 s starts here.
const NOON = Date.UTC(2025, 0, 15, 12, 0, 0);

function setup(form: Record<string, unknown>) {
  const deps = {
    config: configWith({ forms: [{ ...BASE_FORM, ...form }] }),
    queue: new MemoryMailQueue(),
    clock: new FakeClock(NOON),
    newId: () => randomUUID(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    guards: new MemoryGuardStore(),
    suppression: new MemorySuppressionList(),
    templates: shippedCatalog,
  } satisfies SubmitFormDeps;
  return deps;
}

function post(
  fields: Record<string, string>,
  options: { ip?: string; json?: boolean; headers?: Record<string, string> } = {},
): HttpRequest {
  const json = options.json ?? true;
  return {
    method: 'POST',
    headers: {
      'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
      ...options.headers,
    },
    body: Buffer.from(json ? JSON.stringify(fields) : new URLSearchParams(fields).toString()),
    sourceIp: options.ip ?? '203.0.113.7',
  };
}

const FIELDS = { email: 'visitor@example.org', name: 'Vera', message: 'Hello' };
let n = 0;
const unique = () => ({ ...FIELDS, message: `Hello ${++n}` });

function fieldErrors(response: HttpResponse): Array<{ field: string; detail: string }> {
  expect(response.status).toBe(422);
  return (JSON.parse(response.body) as { errors: Array<{ field: string; detail: string }> }).errors;
}

describe('Guards: rate limits', () => {
  it('answers 429 with Retry-After to the submission past the per-IP limit, and enqueues nothing for it', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 2, windowSeconds: 600 } } });
    deps.clock.advance(100_000); // 100 s into the window

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await submitForm('contact', post(unique()), deps)).status);
    const limited = await submitForm('contact', post(unique()), deps);

    expect(statuses).toEqual([202, 202, 429]);
    expect(limited.headers['retry-after']).toBe('500');
    expect(limited.headers['content-type']).toBe('application/problem+json');
    expect(deps.queue.jobs).toHaveLength(2);
    expect(deps.metrics.byDimension()).toEqual({ 'SubmissionRejected{reason=rate-limited}': 2 });
  });

  it('announces the per-IP and per-form quotas with RateLimit-Policy and RateLimit (ratelimit-headers-10)', async () => {
    // Prepare
    const deps = setup({
      rateLimit: { perIp: { max: 2, windowSeconds: 600 }, perForm: { max: 50, windowSeconds: 3600 } },
    });
    deps.clock.advance(100_000); // 100 s into both windows

    // Act
    const first = await submitForm('contact', post(unique()), deps);
    await submitForm('contact', post(unique()), deps);
    const limited = await submitForm('contact', post(unique()), deps);

    // Assess
    expect(first.status).toBe(202);
    expect(first.headers['ratelimit-policy']).toBe('"per-ip";q=2;w=600, "per-form";q=50;w=3600');
    expect(first.headers.ratelimit).toBe('"per-ip";r=1;t=500, "per-form";r=49;t=3500');
    // The 429 stops at the per-IP quota, the first counted: only it is announced, with Retry-After.
    expect(limited.status).toBe(429);
    expect(limited.headers['ratelimit-policy']).toBe('"per-ip";q=2;w=600');
    expect(limited.headers.ratelimit).toBe('"per-ip";r=0;t=500');
    expect(limited.headers['retry-after']).toBe('500');
  });

  it('exposes the RateLimit fields to the cross-origin page that posted, and sends none without a limit', async () => {
    // Prepare
    const limited = setup({
      allowedOrigins: ['https://www.example.com'],
      rateLimit: { perIp: { max: 5, windowSeconds: 60 } },
    });
    const unlimited = setup({ rateLimit: {} });

    // Act
    const fromPage = await submitForm(
      'contact',
      post(unique(), { headers: { origin: 'https://www.example.com' } }),
      limited,
    );
    const plain = await submitForm('contact', post(unique()), unlimited);

    // Assess
    expect(fromPage.headers['access-control-expose-headers']).toBe(
      'RateLimit, RateLimit-Policy, Retry-After',
    );
    expect(fromPage.headers['ratelimit-policy']).toBe('"per-ip";q=5;w=60');
    expect(plain.status).toBe(202);
    expect(plain.headers['ratelimit-policy']).toBeUndefined();
    expect(plain.headers.ratelimit).toBeUndefined();
  });

  it('counts each client IP on its own', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 1, windowSeconds: 600 } } });

    const first = await submitForm('contact', post(unique(), { ip: '198.51.100.1' }), deps);
    const second = await submitForm('contact', post(unique(), { ip: '198.51.100.2' }), deps);
    const again = await submitForm('contact', post(unique(), { ip: '198.51.100.1' }), deps);

    expect([first.status, second.status, again.status]).toEqual([202, 202, 429]);
  });

  it('takes the client IP from the connection, not from X-Forwarded-For', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 1, windowSeconds: 600 } } });

    await submitForm('contact', post(unique(), { headers: { 'x-forwarded-for': '192.0.2.1' } }), deps);
    const spoofed = await submitForm(
      'contact',
      post(unique(), { headers: { 'x-forwarded-for': '192.0.2.2' } }),
      deps,
    );

    expect(spoofed.status).toBe(429);
  });

  it('allows the IP again when the window has passed', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 1, windowSeconds: 600 } } });
    await submitForm('contact', post(unique()), deps);

    deps.clock.advance(600_000);
    const next = await submitForm('contact', post(unique()), deps);

    expect(next.status).toBe(202);
  });

  it('limits the whole form across IPs', async () => {
    const deps = setup({ rateLimit: { perForm: { max: 2, windowSeconds: 3600 } } });

    const statuses = [];
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      statuses.push((await submitForm('contact', post(unique(), { ip }), deps)).status);
    }

    expect(statuses).toEqual([202, 202, 429]);
  });

  it('fails closed with 503 when the counters cannot be reached', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 5, windowSeconds: 600 } } });
    deps.guards.failing = true;

    const response = await submitForm('contact', post(unique()), deps);

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(deps.queue.jobs).toEqual([]);
  });

  it("does not count a submission the service failed (503) against the visitor's limit", async () => {
    // Prepare: one submission per IP, and a queue that cannot be reached
    const deps = setup({
      rateLimit: { perIp: { max: 1, windowSeconds: 600 }, perForm: { max: 1, windowSeconds: 600 } },
    });
    deps.queue.enqueueError = new Error('queue down');

    // Act: the service fails the first submission; the visitor sends again once it is back
    const failed = await submitForm('contact', post(unique()), deps);
    deps.queue.enqueueError = undefined;
    const retried = await submitForm('contact', post(unique()), deps);

    // Assess
    expect(failed.status).toBe(503);
    expect(retried.status).toBe(202);
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('still counts a submission the visitor got wrong (422)', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 1, windowSeconds: 600 } } });

    const invalid = await submitForm('contact', post({ ...FIELDS, email: 'not-an-address' }), deps);
    const next = await submitForm('contact', post(unique()), deps);

    expect([invalid.status, next.status]).toEqual([422, 429]);
  });

  it('does not count a submission that ended in an unexpected error (500)', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 1, windowSeconds: 600 } } });
    const broken = {
      ...deps,
      newId: () => {
        throw new TypeError('id generator broken');
      },
    };

    await expect(submitForm('contact', post(unique()), broken)).rejects.toThrow(TypeError);
    const next = await submitForm('contact', post(unique()), deps);

    expect(next.status).toBe(202);
  });

  it('stores no client IP in the counters', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 5, windowSeconds: 600 } } });

    await submitForm('contact', post(unique(), { ip: '203.0.113.99' }), deps);

    expect([...deps.guards.items.keys()].join(' ')).not.toContain('203.0.113.99');
  });
});

describe('Guards: content rules', () => {
  it('answers 422 naming the field with more links than allowed', async () => {
    const deps = setup({ content: { maxLinks: 2 } });

    const response = await submitForm(
      'contact',
      post({ ...FIELDS, message: 'see https://a.example and http://b.example and www.c.example' }),
      deps,
    );

    expect(fieldErrors(response)).toEqual([{ field: 'message', detail: 'must contain at most 2 links' }]);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('accepts exactly the allowed number of links', async () => {
    const deps = setup({ content: { maxLinks: 2 } });
    const response = await submitForm(
      'contact',
      post({ ...FIELDS, message: 'https://a.example www.b.example' }),
      deps,
    );
    expect(response.status).toBe(202);
  });

  it('drops a submission with a blocked word as a success, enqueuing nothing', async () => {
    const deps = setup({ content: { blockedWords: ['casino', 'cheap pills'] } });
    const honest = await submitForm('contact', post(unique()), setup({}));

    const response = await submitForm('contact', post({ ...FIELDS, message: 'Best CASINO bonus!' }), deps);

    expect(response.status).toBe(honest.status);
    expect(Object.keys(JSON.parse(response.body) as object)).toEqual(['id']);
    expect(deps.queue.jobs).toEqual([]);
    expect(deps.metrics.snapshot()).toEqual({ SpamBlocked: 1 });
    expect(deps.metrics.byDimension()).toEqual({ 'SpamBlocked{guard=blocked-word}': 1 });
  });

  it('matches blocked phrases across punctuation and in any field, but not inside other words', async () => {
    const deps = setup({ content: { blockedWords: ['casino', 'cheap pills'] } });

    await submitForm('contact', post({ ...FIELDS, company: 'Cheap, pills Ltd', message: 'hi' }), deps);
    await submitForm('contact', post({ ...FIELDS, message: 'I visited the casinos of Monaco' }), deps);

    expect(deps.queue.jobs.map((job) => job.text.includes('Monaco'))).toEqual([true]);
  });
});

describe('Guards: duplicate submissions', () => {
  it('accepts the same content from the same sender once, answering the repeat with the same id', async () => {
    const deps = setup({ content: { duplicateWindowSeconds: 3600 } });

    const first = await submitForm('contact', post(FIELDS), deps);
    const repeat = await submitForm('contact', post(FIELDS), deps);

    expect(repeat.status).toBe(202);
    expect(repeat.body).toBe(first.body);
    expect(deps.queue.jobs).toHaveLength(1);
    expect(deps.metrics.snapshot()).toEqual({ MailAccepted: 1, SpamBlocked: 1 });
    expect(deps.metrics.byDimension()).toEqual({ 'SpamBlocked{guard=duplicate}': 1 });
  });

  it('accepts the same content again once the window has passed', async () => {
    const deps = setup({ content: { duplicateWindowSeconds: 3600 } });
    await submitForm('contact', post(FIELDS), deps);

    deps.clock.advance(3_600_000);
    await submitForm('contact', post(FIELDS), deps);

    expect(deps.queue.jobs).toHaveLength(2);
  });

  it('does not take a retry after a failed enqueue for a duplicate', async () => {
    const deps = setup({ content: { duplicateWindowSeconds: 3600 } });
    deps.queue.enqueueError = new Error('queue down');
    const failed = await submitForm('contact', post(FIELDS), deps);
    deps.queue.enqueueError = undefined;

    const retry = await submitForm('contact', post(FIELDS), deps);

    expect(failed.status).toBe(503);
    expect(retry.status).toBe(202);
    expect(deps.queue.jobs).toHaveLength(1);
  });
});

describe('Guards: thank-you redirects', () => {
  const form = {
    redirectUrl: 'https://www.example.com/thanks',
    allowedRedirects: ['https://www.example.com/thanks-fr'],
  };

  it('redirects to an allowed _next URL', async () => {
    const deps = setup(form);
    const response = await submitForm(
      'contact',
      post({ ...FIELDS, _next: 'https://www.example.com/thanks-fr' }, { json: false }),
      deps,
    );
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('https://www.example.com/thanks-fr');
  });

  it.each([
    'https://evil.example/phish',
    '//evil.example',
    'https://www.example.com.evil.example/thanks-fr',
    'javascript:alert(1)',
    'https://www.example.com/thanks-fr?x=1',
  ])('refuses _next=%s with 422 naming _next, enqueuing nothing', async (next) => {
    const deps = setup(form);
    const response = await submitForm('contact', post({ ...FIELDS, _next: next }, { json: false }), deps);
    expect(fieldErrors(response)).toEqual([
      { field: '_next', detail: "is not one of the form's allowed redirect URLs" },
    ]);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('uses the configured thank-you URL without _next', async () => {
    const deps = setup(form);
    const response = await submitForm('contact', post(FIELDS, { json: false }), deps);
    expect(response.headers.location).toBe('https://www.example.com/thanks');
  });
});

describe('Guards: autoresponse', () => {
  const autoresponse = {
    subject: 'We got your message',
    text: 'Thank you for writing to us. We answer within two working days.',
  };

  it('queues a fixed confirmation to the visitor after the mail, holding none of their text', async () => {
    const deps = setup({ autoresponse });

    const response = await submitForm(
      'contact',
      post({
        email: 'visitor@example.org',
        name: 'Spammer http://spam.example',
        message: 'BUY PILLS http://spam.example',
      }),
      deps,
    );

    expect(response.status).toBe(202);
    const [mail, confirmation] = deps.queue.jobs;
    expect(mail?.source.kind).toBe('form');
    expect(confirmation).toMatchObject({
      source: { kind: 'autoresponse', formId: 'contact' },
      to: ['visitor@example.org'],
      subject: 'We got your message',
      text: expect.stringContaining(`\n${autoresponse.text}\n`),
    });
    expect(confirmation?.replyTo).toBeUndefined();
    expect(JSON.stringify(confirmation)).not.toMatch(/spam|PILLS|Spammer/i);
  });

  it('skips the confirmation to a suppressed visitor, logs it, and still accepts the submission', async () => {
    const deps = setup({ autoresponse });
    await deps.suppression.add({
      address: 'Visitor@example.org',
      reason: 'complaint',
      at: '2025-01-01T00:00:00Z',
    });

    const response = await submitForm('contact', post(FIELDS), deps);

    expect(response.status).toBe(202);
    expect(deps.queue.jobs.map((job) => job.source.kind)).toEqual(['form']);
    expect(deps.log.entries.some((entry) => entry.attributes.outcome === 'autoresponse-suppressed')).toBe(
      true,
    );
  });

  it("does not check the form's own recipients against the suppression list: they are the owner's inbox", async () => {
    const deps = setup({ recipients: ['owner@example.com'] });
    await deps.suppression.add({
      address: 'owner@example.com',
      reason: 'bounce',
      at: '2025-01-01T00:00:00Z',
    });

    const response = await submitForm('contact', post(FIELDS), deps);

    expect(response.status).toBe(202);
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('sends one confirmation per address per day, however often the address is used', async () => {
    const deps = setup({ autoresponse });

    for (let i = 0; i < 3; i++) await submitForm('contact', post(unique()), deps);
    deps.clock.advance(86_400_000);
    await submitForm('contact', post(unique()), deps);

    expect(deps.queue.jobs.filter((job) => job.source.kind === 'autoresponse')).toHaveLength(2);
    expect(deps.queue.jobs.filter((job) => job.source.kind === 'form')).toHaveLength(4);
  });

  it('sends no confirmation when a guard stopped the submission', async () => {
    const deps = setup({ autoresponse, content: { blockedWords: ['casino'] } });

    await submitForm('contact', post({ ...FIELDS, _gotcha: 'x' }), deps);
    await submitForm('contact', post({ ...FIELDS, message: 'casino' }), deps);
    await submitForm('contact', post({ ...FIELDS, email: 'not-an-address' }), deps);

    expect(deps.queue.jobs).toEqual([]);
  });

  it('still accepts the submission when the confirmation cannot be queued, and records it as failed', async () => {
    const deps = { ...setup({ autoresponse }), messages: new MemoryMessageStore() };
    const enqueue = deps.queue.enqueue.bind(deps.queue);
    deps.queue.enqueue = async (job) => {
      if (job.source.kind === 'autoresponse') throw new Error('queue hiccup');
      await enqueue(job);
    };

    const response = await submitForm('contact', post(unique()), deps);

    expect(response.status).toBe(202);
    expect(deps.queue.jobs.map((job) => job.source.kind)).toEqual(['form']);
    expect(deps.log.entries.some((e) => e.attributes.outcome === 'autoresponse-failed')).toBe(true);
    const statuses = [...deps.messages.records.values()].map((record) => record.status).sort();
    expect(statuses).toEqual(['failed', 'queued']);
  });
});
