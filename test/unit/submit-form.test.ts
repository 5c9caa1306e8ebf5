import { describe, expect, it } from 'vitest';
import type { PostroomConfig } from '../../functions/core/config/config';
import {
  checkHealth,
  preflightForm,
  type SubmitFormDeps,
  submitForm,
} from '../../functions/core/forms/submit-form';
import type { HttpRequest, HttpResponse } from '../../functions/core/http';
import { mailJobSchema } from '../../functions/core/mail/mail-job';
import { configWith, shippedConfig, shippedConfigInput } from '../fakes/config';
import {
  FakeClock,
  MemoryGuardStore,
  MemoryMailQueue,
  MemoryMessageStore,
  RecordingLog,
  RecordingMetrics,
  sequentialIds,
} from '../fakes/ports';
import { shippedCatalog, shippedTemplatesNow } from '../support/templates';

const ID = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const ORIGIN = 'http://localhost:3000';
const FIELDS = { email: 'visitor@example.org', name: 'Vera Visitor', message: 'Hello there' };

function setup(config: PostroomConfig = shippedConfig()) {
  const deps = {
    config,
    queue: new MemoryMailQueue(),
    clock: new FakeClock(Date.UTC(2025, 0, 15, 12, 0, 0)),
    newId: sequentialIds(ID),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    guards: new MemoryGuardStore(),
    templates: shippedCatalog,
  } satisfies SubmitFormDeps;
  return deps;
}

function jsonRequest(fields: Record<string, unknown>, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(fields)),
  };
}

function formRequest(fields: Record<string, string>, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: Buffer.from(new URLSearchParams(fields).toString()),
  };
}

function multipartRequest(fields: Record<string, string>, headers: Record<string, string> = {}): HttpRequest {
  const boundary = 'postroom-boundary-42';
  const parts = Object.entries(fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  return {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, ...headers },
    body: Buffer.from(`${parts.join('')}--${boundary}--\r\n`),
  };
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; detail: string }>;
}

/** Asserts the RFC 9457 shape every error response has, and returns the problem. */
function problemOf(response: HttpResponse, status: number): Problem {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json');
  const problem = JSON.parse(response.body) as Problem;
  expect(problem.status).toBe(status);
  expect(typeof problem.title).toBe('string');
  expect(problem.title.length).toBeGreaterThan(0);
  expect(typeof problem.detail).toBe('string');
  expect(problem.detail.length).toBeGreaterThan(0);
  expect(response.body).not.toMatch(/\bat .+\.ts:\d+/);
  return problem;
}

describe('Core: submitForm', () => {
  it('answers 202 with the job id for a JSON post and enqueues the mail', async () => {
    // Prepare
    const deps = setup();

    // Act
    const response = await submitForm('contact', jsonRequest(FIELDS), deps);

    // Assess
    expect(response).toEqual({
      status: 202,
      headers: {
        'content-type': 'application/json',
        // The shipped form's quotas, first request of both windows (draft-ietf-httpapi-ratelimit-headers-10).
        'ratelimit-policy': '"per-ip";q=5;w=600, "per-form";q=500;w=3600',
        ratelimit: '"per-ip";r=4;t=600, "per-form";r=499;t=3600',
      },
      body: JSON.stringify({ id: ID }),
    });
    expect(deps.queue.jobs).toHaveLength(1);
    const job = deps.queue.jobs[0];
    expect(mailJobSchema.parse(job)).toEqual(job);
    expect(job).toMatchObject({
      id: ID,
      createdAt: '2025-01-15T12:00:00.000Z',
      from: { name: 'Postroom', address: 'no-reply@example.com' },
      to: ['owner@example.com'],
      replyTo: 'visitor@example.org',
      subject: 'New message from Vera Visitor',
    });
  });

  it('redirects a plain HTML form post to the thank-you page with 303', async () => {
    const deps = setup();
    const response = await submitForm('contact', formRequest(FIELDS, { accept: 'text/html,*/*' }), deps);
    expect(response).toEqual({
      status: 303,
      headers: {
        location: 'http://localhost:3000/thanks',
        // The shipped form's quotas, first request of both windows (draft-ietf-httpapi-ratelimit-headers-10).
        'ratelimit-policy': '"per-ip";q=5;w=600, "per-form";q=500;w=3600',
        ratelimit: '"per-ip";r=4;t=600, "per-form";r=499;t=3600',
      },
      body: '',
    });
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('redirects a multipart form post to the thank-you page with 303', async () => {
    const deps = setup();
    const response = await submitForm('contact', multipartRequest(FIELDS), deps);
    expect(response.status).toBe(303);
    expect(deps.queue.jobs[0]?.replyTo).toBe('visitor@example.org');
  });

  it('answers 202 JSON to a urlencoded post that accepts application/json', async () => {
    const deps = setup();
    const response = await submitForm(
      'contact',
      formRequest(FIELDS, { accept: 'text/plain, application/json;q=0.9' }),
      deps,
    );
    expect(response.status).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ id: ID });
  });

  it('answers 200 with a thank-you page when the form has no redirect URL', async () => {
    // Prepare
    const forms = shippedConfigInput().forms as Array<Record<string, unknown>>;
    const deps = setup(configWith({ forms: [{ ...forms[0], redirectUrl: undefined }] }));

    // Act
    const response = await submitForm('contact', formRequest(FIELDS), deps);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('Thank you');
    expect(deps.queue.jobs).toHaveLength(1);
  });

  it('answers 404 for an unknown form', async () => {
    const deps = setup();
    const response = await submitForm('nope', jsonRequest(FIELDS), deps);
    expect(problemOf(response, 404).detail).toBe('There is no form "nope".');
    expect(deps.queue.jobs).toEqual([]);
  });

  describe('CORS', () => {
    it('answers 403 to a disallowed origin and enqueues nothing', async () => {
      // Prepare
      const deps = setup();

      // Act
      const response = await submitForm(
        'contact',
        jsonRequest(FIELDS, { origin: 'https://evil.example' }),
        deps,
      );

      // Assess
      problemOf(response, 403);
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
      expect(deps.queue.jobs).toEqual([]);
    });

    it('answers 403 to the opaque origin "null"', async () => {
      const deps = setup();
      const response = await submitForm('contact', jsonRequest(FIELDS, { origin: 'null' }), deps);
      problemOf(response, 403);
      expect(deps.queue.jobs).toEqual([]);
    });

    it('allows the origin on success', async () => {
      const deps = setup();
      const response = await submitForm('contact', jsonRequest(FIELDS, { origin: ORIGIN }), deps);
      expect(response.status).toBe(202);
      expect(response.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(response.headers.vary).toBe('Origin');
    });

    it('allows the origin on a 422, so the page can read the errors', async () => {
      const deps = setup();
      const response = await submitForm('contact', jsonRequest({ email: 'x' }, { origin: ORIGIN }), deps);
      problemOf(response, 422);
      expect(response.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(response.headers.vary).toBe('Origin');
    });

    it('sends no CORS headers to a request without Origin', async () => {
      const deps = setup();
      const response = await submitForm('contact', jsonRequest(FIELDS), deps);
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  it('answers 413 to a body over api.maxBodyBytes and enqueues nothing', async () => {
    // Prepare: exactly one byte too many
    const deps = setup();
    const request = jsonRequest({ ...FIELDS, message: 'm' });
    const padded = { ...request, body: Buffer.alloc(deps.config.api.maxBodyBytes + 1, 0x20) };

    // Act
    const response = await submitForm('contact', padded, deps);

    // Assess
    expect(problemOf(response, 413).detail).toBe('The request body is larger than 65536 bytes.');
    expect(deps.queue.jobs).toEqual([]);
    expect(deps.metrics.snapshot()).toEqual({ SubmissionRejected: 1 });
    expect(deps.metrics.byDimension()).toEqual({ 'SubmissionRejected{reason=too-large}': 1 });
  });

  it('answers 413 when the rendered mail would not fit in an SQS message, and enqueues nothing', async () => {
    // Prepare: a body within a generous limit whose quotes grow sixfold as HTML (&quot;)
    const deps = setup(
      configWith({
        api: { maxBodyBytes: 2_000_000 },
        forms: [
          { ...(shippedConfigInput().forms as object[])[0], maxFieldLength: 100_000, maxExtraFields: 3 },
        ],
      }),
    );
    const quotes = '"'.repeat(100_000);

    // Act
    const response = await submitForm(
      'contact',
      jsonRequest({ ...FIELDS, message: quotes, a: quotes, b: quotes }),
      deps,
    );

    // Assess
    expect(problemOf(response, 413).detail).toBe('The message is too large to send.');
    expect(deps.queue.jobs).toEqual([]);
  });

  it('accepts a body of exactly api.maxBodyBytes', async () => {
    const deps = setup();
    const json = JSON.stringify(FIELDS);
    const body = Buffer.from(json.padEnd(deps.config.api.maxBodyBytes, ' '));
    const response = await submitForm(
      'contact',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body },
      deps,
    );
    expect(response.status).toBe(202);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['no content type', {}],
  ])('answers 415 to %s', async (_, headers) => {
    const deps = setup();
    const response = await submitForm(
      'contact',
      { method: 'POST', headers, body: Buffer.from(JSON.stringify(FIELDS)) },
      deps,
    );
    problemOf(response, 415);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('answers 400 to malformed JSON', async () => {
    const deps = setup();
    const response = await submitForm(
      'contact',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"email":') },
      deps,
    );
    expect(problemOf(response, 400).detail).toBe('The body is not valid JSON.');
  });

  it('answers 422 naming every invalid field', async () => {
    // Prepare
    const deps = setup();

    // Act
    const response = await submitForm(
      'contact',
      jsonRequest({ email: 'visitor@example.org@evil.com', name: 'Vera\r\nBcc: x@evil.com', message: ' ' }),
      deps,
    );

    // Assess
    const problem = problemOf(response, 422);
    expect(problem.title).toBe('Unprocessable Content');
    expect(problem.errors).toEqual([
      { field: 'email', detail: 'must contain exactly one @' },
      { field: 'name', detail: 'must be a single line of text' },
      { field: 'message', detail: 'is required' },
    ]);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('answers 422 when the reply-to address has two @ in a urlencoded post', async () => {
    const deps = setup();
    const response = await submitForm('contact', formRequest({ ...FIELDS, email: 'a@x.com@y.com' }), deps);
    expect(problemOf(response, 422).errors).toEqual([
      { field: 'email', detail: 'must contain exactly one @' },
    ]);
  });

  it('answers 422 to more fields than the form allows', async () => {
    const deps = setup();
    const extra = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, 'x']));
    const response = await submitForm('contact', jsonRequest({ ...FIELDS, ...extra }), deps);
    expect(problemOf(response, 422).errors?.[0]?.field).toBe('(body)');
    expect(deps.queue.jobs).toEqual([]);
  });

  describe('honeypot', () => {
    it('answers a filled honeypot exactly like a success and enqueues nothing', async () => {
      // Prepare
      const honest = setup();
      const bot = setup();

      // Act
      const expected = await submitForm('contact', jsonRequest(FIELDS, { origin: ORIGIN }), honest);
      const response = await submitForm(
        'contact',
        jsonRequest({ ...FIELDS, _gotcha: 'http://spam.example' }, { origin: ORIGIN }),
        bot,
      );

      // Assess
      expect(response).toEqual(expected);
      expect(response.status).toBe(202);
      expect(bot.queue.jobs).toEqual([]);
      expect(bot.log.entries).toContainEqual({
        level: 'info',
        message: 'submission dropped as spam',
        attributes: { formId: 'contact', jobId: ID, outcome: 'spam-blocked', guard: 'honeypot' },
      });
      expect(bot.metrics.snapshot()).toEqual({ SpamBlocked: 1 });
      expect(bot.metrics.byDimension()).toEqual({ 'SpamBlocked{guard=honeypot}': 1 });
      expect(honest.metrics.snapshot()).toEqual({ MailAccepted: 1 });
      expect(honest.metrics.byDimension()).toEqual({});
    });

    it('redirects a bot posting an HTML form like a person', async () => {
      const deps = setup();
      const response = await submitForm('contact', formRequest({ ...FIELDS, _gotcha: 'x' }), deps);
      // Answered exactly as a person's post, rate-limit fields included.
      expect(response).toEqual({
        status: 303,
        headers: {
          location: 'http://localhost:3000/thanks',
          'ratelimit-policy': '"per-ip";q=5;w=600, "per-form";q=500;w=3600',
          ratelimit: '"per-ip";r=4;t=600, "per-form";r=499;t=3600',
        },
        body: '',
      });
      expect(deps.queue.jobs).toEqual([]);
    });
  });

  it('answers 503 with retry-after when the queue refuses the job', async () => {
    // Prepare
    const deps = setup();
    deps.queue.enqueueError = new Error('SQS unavailable at https://sqs.internal/123456789012/mail');

    // Act
    const response = await submitForm('contact', jsonRequest(FIELDS, { origin: ORIGIN }), deps);

    // Assess
    const problem = problemOf(response, 503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(response.body).not.toContain('sqs.internal');
    expect(problem.detail).toBe('Mail cannot be accepted right now; try again shortly.');
  });

  it('records a form message as queued, without an owner', async () => {
    // Prepare
    const deps = { ...setup(), messages: new MemoryMessageStore() };

    // Act
    await submitForm('contact', jsonRequest(FIELDS), deps);

    // Assess
    expect(deps.messages.records.get(ID)).toEqual({
      status: 'queued',
      history: [
        {
          status: 'queued',
          at: '2025-01-15T12:00:00.000Z',
          detail: `template form-notification@${shippedTemplatesNow()['form-notification']?.version}`,
        },
      ],
    });
  });

  it('records failed when the queue refused the job, and still accepts mail when status cannot be written', async () => {
    // Prepare
    const refused = { ...setup(), messages: new MemoryMessageStore() };
    refused.queue.enqueueError = new Error('queue down');
    const statusDown = { ...setup(), messages: new MemoryMessageStore() };
    statusDown.messages.failing = true;

    // Act
    await submitForm('contact', jsonRequest(FIELDS), refused);
    const accepted = await submitForm('contact', jsonRequest(FIELDS), statusDown);

    // Assess
    expect(refused.messages.statuses(ID)).toEqual(['queued', 'failed']);
    expect(accepted.status).toBe(202);
    expect(statusDown.queue.jobs).toHaveLength(1);
  });

  it('enqueues while the queued status is being written, and keeps a relay status that landed first', async () => {
    // Prepare: a slow status write; while it is under way the relay, if the job is there, writes `sending`.
    const deps = { ...setup(), messages: new MemoryMessageStore() };
    const write = deps.messages.recordInitial.bind(deps.messages);
    deps.messages.recordInitial = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (deps.queue.jobs.length > 0) {
        await deps.messages.record(ID, { status: 'sending', at: '2025-01-15T12:00:00.020Z' });
      }
      await write(...args);
    };

    // Act
    const response = await submitForm('contact', jsonRequest(FIELDS), deps);

    // Assess
    expect(response.status).toBe(202);
    expect((await deps.messages.get(ID))?.status).toBe('sending');
    expect(deps.messages.statuses(ID)).toEqual(['queued', 'sending']);
  });

  it('logs the visitor masked and never the message', async () => {
    const deps = setup();
    await submitForm('contact', jsonRequest(FIELDS), deps);
    const logged = deps.log.text();
    expect(logged).toContain('v***@example.org');
    expect(logged).not.toContain('visitor@example.org');
    expect(logged).not.toContain('Hello there');
  });

  it("enqueues the job with the request's correlation id, never one from a header", async () => {
    // Prepare
    const deps = setup();
    const request = { ...jsonRequest(FIELDS, { 'x-correlation-id': 'forged' }), correlationId: 'req-42' };

    // Act
    await submitForm('contact', request, deps);

    // Assess
    expect(deps.queue.correlationIds).toEqual(['req-42']);
  });
});

describe('Core: preflightForm', () => {
  const config = shippedConfig();

  it('answers 204 with the allowed methods to an allowed origin', () => {
    const response = preflightForm(config, 'contact', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
      body: Buffer.alloc(0),
    });
    expect(response).toEqual({
      status: 204,
      headers: {
        'access-control-allow-origin': ORIGIN,
        vary: 'Origin',
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, accept',
        'access-control-max-age': '600',
      },
      body: '',
    });
  });

  it('answers 403 to a disallowed origin, without CORS headers', () => {
    const response = preflightForm(config, 'contact', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
      body: Buffer.alloc(0),
    });
    problemOf(response, 403);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect(response.headers['access-control-allow-methods']).toBeUndefined();
  });

  it('answers 404 for an unknown form', () => {
    const response = preflightForm(config, 'nope', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN },
      body: Buffer.alloc(0),
    });
    problemOf(response, 404);
  });

  it('answers 204 with Allow and no CORS headers without an Origin', () => {
    const response = preflightForm(config, 'contact', {
      method: 'OPTIONS',
      headers: {},
      body: Buffer.alloc(0),
    });
    expect(response).toEqual({ status: 204, headers: { allow: 'POST, OPTIONS' }, body: '' });
  });
});

describe('Core: checkHealth', () => {
  it('answers 200 when the queue answers', async () => {
    const queue = new MemoryMailQueue();
    const response = await checkHealth(queue, new RecordingLog());
    expect(response).toEqual({
      status: 200,
      headers: { 'cache-control': 'no-store', 'content-type': 'application/json' },
      body: '{"status":"ok"}',
    });
  });

  it('answers 503 problem+json when the queue cannot be reached', async () => {
    // Prepare
    const queue = new MemoryMailQueue();
    queue.pingError = Object.assign(new Error('getaddrinfo ENOTFOUND sqs.internal'), {
      name: 'NetworkError',
    });
    const log = new RecordingLog();

    // Act
    const response = await checkHealth(queue, log);

    // Assess
    problemOf(response, 503);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).not.toContain('sqs.internal');
    expect(log.entries).toEqual([
      { level: 'error', message: 'health check failed', attributes: { error: 'NetworkError' } },
    ]);
  });
});
