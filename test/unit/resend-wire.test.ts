import { describe, expect, it } from 'vitest';
import { type RequestFacts, resendErrorFor } from '../../functions/core/resend/resend-errors';
import {
  rescheduleBodyFromResend,
  resendEmailObject,
  resendFieldName,
  sendBodyFromResend,
} from '../../functions/core/resend/resend-wire';

const keyed: RequestFacts = { hasApiKey: true, idempotencyKey: 'valid' };
const plain: RequestFacts = { hasApiKey: true, idempotencyKey: 'absent' };

describe("Resend's wire format to the core's and back", () => {
  it('renames reply_to and scheduled_at, unwraps a one-address reply_to list and drops nulls', () => {
    // Act
    const body = sendBodyFromResend({
      from: 'a@example.com',
      to: ['b@example.org'],
      reply_to: ['c@example.org'],
      scheduled_at: '2026-12-24T09:00:00Z',
      topic_id: null,
      headers: { 'X-Entity-Ref-ID': '1' },
    });

    // Assess
    expect(body).toEqual({
      from: 'a@example.com',
      to: ['b@example.org'],
      replyTo: 'c@example.org',
      scheduledAt: '2026-12-24T09:00:00Z',
      headers: { 'X-Entity-Ref-ID': '1' },
    });
  });

  it('keeps a reply_to of several addresses and fields Postroom lacks, for the core to refuse by name', () => {
    // Act
    const body = sendBodyFromResend({ reply_to: ['a@example.org', 'b@example.org'], topic_id: 't' });

    // Assess
    expect(body).toEqual({ replyTo: ['a@example.org', 'b@example.org'], topic_id: 't' });
  });

  it("renames an attachment's content_type, derives it from the file name when absent, and keeps path for the core to refuse", () => {
    // Act
    const body = sendBodyFromResend({
      attachments: [
        { filename: 'a.PDF', content: 'JVBERi0=' },
        { filename: 'b.bin', content: 'AA==' },
        { filename: 'c.txt', content: 'aGk=', content_type: 'text/csv' },
        { filename: 'd.png', path: 'https://example.com/d.png' },
      ],
    });

    // Assess
    expect(body).toEqual({
      attachments: [
        { filename: 'a.PDF', content: 'JVBERi0=', contentType: 'application/pdf' },
        { filename: 'b.bin', content: 'AA==' },
        { filename: 'c.txt', content: 'aGk=', contentType: 'text/csv' },
        { filename: 'd.png', path: 'https://example.com/d.png', contentType: 'image/png' },
      ],
    });
  });

  it('hands on what is not an object unchanged', () => {
    // Assess
    expect(sendBodyFromResend('text')).toBe('text');
    expect(sendBodyFromResend([1])).toEqual([1]);
    expect(rescheduleBodyFromResend({ scheduled_at: 'x' })).toEqual({ scheduledAt: 'x' });
  });

  it("names the core's fields in Resend's words", () => {
    // Assess
    expect(resendFieldName('replyTo')).toBe('reply_to');
    expect(resendFieldName('[2].scheduledAt')).toBe('[2].scheduled_at');
    expect(resendFieldName('attachments[0].contentType')).toBe('attachments[0].content_type');
    expect(resendFieldName('template.variables.replyTo')).toBe('template.variables.reply_to');
    expect(resendFieldName('to[0]')).toBe('to[0]');
  });

  it("maps every Postroom status to one of Resend's last_event values, without content it does not keep", () => {
    // Act
    const statuses = [
      'queued',
      'sending',
      'sent',
      'failed',
      'delivered',
      'bounced',
      'complained',
      'rejected',
      'scheduled',
      'canceled',
    ] as const;
    const events = statuses.map(
      (status) =>
        resendEmailObject({ id: 'x', status, history: [{ status, at: '2026-12-03T10:00:00.000Z' }] })
          .last_event,
    );

    // Assess
    expect(events).toEqual([
      'queued',
      'queued',
      'sent',
      'failed',
      'delivered',
      'bounced',
      'complained',
      'failed',
      'scheduled',
      'canceled',
    ]);
    expect(resendEmailObject({ id: 'x', status: 'scheduled', scheduledAt: 's', history: [] })).toMatchObject({
      object: 'email',
      created_at: null,
      scheduled_at: 's',
      from: null,
      to: null,
      subject: null,
    });
  });
});

describe("The core's problems as Resend's errors", () => {
  it('names each status as Resend does, with its documented status', () => {
    // Act
    const named = [
      resendErrorFor(400, { detail: 'not JSON' }, plain),
      resendErrorFor(400, { detail: 'bad key' }, { hasApiKey: true, idempotencyKey: 'malformed' }),
      resendErrorFor(401, { detail: 'required' }, { hasApiKey: false, idempotencyKey: 'absent' }),
      resendErrorFor(401, { detail: 'unknown' }, plain),
      resendErrorFor(404, { detail: 'none' }, plain),
      resendErrorFor(405, { detail: 'Use POST.' }, plain),
      resendErrorFor(413, { detail: 'large' }, plain),
      resendErrorFor(422, { detail: 'invalid', errors: [{ field: 'replyTo', detail: 'bad' }] }, keyed),
      resendErrorFor(429, { detail: 'slow down' }, plain),
      resendErrorFor(503, { detail: 'later' }, plain),
    ].map((error) => `${error.statusCode} ${error.name}`);

    // Assess
    expect(named).toEqual([
      '400 validation_error',
      '400 invalid_idempotency_key',
      '401 missing_api_key',
      '403 invalid_api_key',
      '404 not_found',
      '405 method_not_allowed',
      '413 validation_error',
      '422 validation_error',
      '429 rate_limit_exceeded',
      '503 application_error',
    ]);
  });

  it("names the core's 422 for a reused Idempotency-Key invalid_idempotent_request and its 409 in-flight concurrent", () => {
    // Act: the core's answers (functions/core/api/idempotency.ts)
    const reused = resendErrorFor(
      422,
      {
        detail: 'This Idempotency-Key was used with a different payload in the last 24 hours.',
        errors: [{ field: 'Idempotency-Key', detail: 'used with a different payload' }],
      },
      keyed,
    );
    const inFlight = resendErrorFor(
      409,
      {
        detail: 'A request with this Idempotency-Key is still being processed; retry shortly.',
        errors: [{ field: 'Idempotency-Key', detail: 'still being processed' }],
      },
      keyed,
    );

    // Assess
    expect(reused).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
    expect(inFlight).toMatchObject({ statusCode: 409, name: 'concurrent_idempotent_requests' });
  });

  it('keeps a 409 for a message no longer scheduled a validation_error, key or not', () => {
    // Act
    const error = resendErrorFor(409, { detail: 'The message is sent.', messageStatus: 'sent' }, keyed);

    // Assess
    expect(error).toEqual({ statusCode: 409, name: 'validation_error', message: 'The message is sent.' });
  });

  it("writes field errors into one message in Resend's field names", () => {
    // Act
    const error = resendErrorFor(
      422,
      {
        detail: 'One or more fields are invalid.',
        errors: [
          { field: 'replyTo', detail: 'must contain exactly one @' },
          { field: 'attachments[0].contentType', detail: 'must be a MIME type' },
        ],
      },
      plain,
    );

    // Assess
    expect(error.message).toBe(
      '`reply_to` must contain exactly one @; `attachments[0].content_type` must be a MIME type',
    );
  });
});
