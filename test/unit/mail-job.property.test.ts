import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildApiMailJob,
  sendRequestSchema,
  validateSendRequest,
} from '../../functions/core/api/send-request';
import type { FormConfig } from '../../functions/core/config/config';
import { ValidationError } from '../../functions/core/errors';
import type { SubmittedFields } from '../../functions/core/forms/form-body';
import { buildAutoresponseJob, buildFormMailJob } from '../../functions/core/forms/form-mail';
import { type FormSubmission, validateSubmission } from '../../functions/core/forms/form-submission';
import { asciiDomain } from '../../functions/core/mail/address';
import { planAttachments } from '../../functions/core/mail/attachments';
import { type MailJob, parseMailJob, serializeMailJob } from '../../functions/core/mail/mail-job';
import { CREATED_AT, configWith, JOB_ID } from '../fakes/config';
import { shippedTemplatesNow } from '../support/templates';

/**
 * The producer writes jobs without running the MailJob schema: it builds them from parts it has already
 * validated. These properties are what makes that safe: whatever a visitor or an API sender gets accepted,
 * the job built from it is one the relay reads back unchanged. Producer and consumer cannot drift apart
 * without one of them failing.
 */

const config = configWith({
  sender: 'Postroom <no-reply@example.com>',
  forms: [
    {
      id: 'contact',
      recipients: ['owner@example.com', 'sales@example.com'],
      subject: '{{name}} | {{message}} | {{topic}}',
      maxExtraFields: 5,
      maxFieldLength: 5_000,
      autoresponse: { subject: 'Thank you', text: 'We got your message.\nWe answer within a day.' },
    },
  ],
});
const form = config.forms[0] as FormConfig;

const PIECES = ['\r\n', '\n', '\t', '"', '<b>', '&amp;', '{{email}}', 'é', '😀', '\u2028', ' ', 'x'];
const text = fc
  .array(
    fc.oneof(
      fc.constantFrom(...PIECES),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
    ),
    { maxLength: 12 },
  )
  .map((pieces) => pieces.join(''));
const fieldName = fc.oneof(fc.constantFrom('topic', 'company', '_next', 'cf-turnstile-response'), text);
const fields: fc.Arbitrary<SubmittedFields> = fc
  .record({
    email: fc.oneof({ weight: 5, arbitrary: fc.emailAddress() }, { weight: 1, arbitrary: text }),
    name: fc.option(text, { nil: undefined }),
    message: text.map((value) => `x${value}`),
    extra: fc.array(fc.tuple(fieldName, text), { maxLength: 6 }),
  })
  .map(({ email, name, message, extra }) => [
    ['email', email] as const,
    ...(name === undefined ? [] : [['name', name] as const]),
    ['message', message] as const,
    ...extra,
  ]);

const file = fc.record({
  field: fc.constant('attachment'),
  filename: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,40}\.(txt|pdf)$/),
  contentType: fc.constantFrom('text/plain', 'application/pdf'),
  content: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
});

function accepted(submitted: SubmittedFields): FormSubmission | undefined {
  try {
    return validateSubmission(submitted, form);
  } catch (error) {
    if (error instanceof ValidationError) return undefined;
    throw error;
  }
}

function expectReadable(job: MailJob): void {
  expect(parseMailJob(serializeMailJob(job))).toEqual({ ok: true, job });
}

describe('Core: jobs the producers build', () => {
  it('a form job from any accepted submission parses with the MailJob schema', () => {
    fc.assert(
      fc.property(
        fields,
        fc.array(file, { maxLength: 3 }),
        fc.integer({ min: 0, max: 200 }),
        (submitted, files, inlineMax) => {
          const submission = accepted(submitted);
          if (submission === undefined) return;
          const { attachments } = planAttachments(files, JOB_ID, inlineMax);
          expectReadable(
            buildFormMailJob(
              config,
              form,
              submission,
              { id: JOB_ID, createdAt: CREATED_AT },
              attachments,
              shippedTemplatesNow(),
            ),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the autoresponse to any accepted submission parses with the MailJob schema', () => {
    fc.assert(
      fc.property(fields, (submitted) => {
        const submission = accepted(submitted);
        if (submission === undefined) return;
        const job = buildAutoresponseJob(
          config,
          form,
          submission.email.address,
          { id: JOB_ID, createdAt: CREATED_AT },
          shippedTemplatesNow(),
        );
        expect(job).toBeDefined();
        expectReadable(job as MailJob);
      }),
      { numRuns: 200 },
    );
  });

  it('an API job from any accepted send request parses with the MailJob schema', () => {
    const schema = sendRequestSchema(config);
    // Mostly valid parts, so that most requests get through validation, with text that validation refuses.
    const mostly = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: other });
    const address = mostly(fc.emailAddress(), text);
    const addresses = (max: number) => fc.array(address, { minLength: 1, maxLength: max });
    const line = mostly(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), text);
    const request = fc.record(
      {
        from: fc.oneof(
          fc.constant('no-reply@example.com'),
          fc.stringMatching(/^[A-Za-z .'-]{0,30}$/).map((name) => `${name} <no-reply@example.com>`),
          text,
        ),
        to: addresses(3),
        cc: addresses(2),
        bcc: addresses(2),
        replyTo: address,
        subject: line,
        text,
        html: text,
        headers: fc.dictionary(
          fc.constantFrom('List-Unsubscribe', 'list-unsubscribe-post', 'X-Entity-Ref-ID', 'Bcc'),
          line,
          { maxKeys: 3 },
        ),
        tags: fc.array(
          fc.record({
            name: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
            value: mostly(fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), text),
          }),
          { maxLength: 3 },
        ),
      },
      { requiredKeys: ['from', 'to', 'subject', 'text'] },
    );
    let built = 0;
    fc.assert(
      fc.property(request, (body) => {
        const validated = validateSendRequest(schema, body);
        if (!validated.ok) return;
        built += 1;
        expectReadable(
          buildApiMailJob(validated.request, { id: JOB_ID, createdAt: CREATED_AT, keyId: 'key-1' }),
        );
      }),
      { numRuns: 400 },
    );
    // The property is only worth something if requests get through validation.
    expect(built).toBeGreaterThan(20);
  });
});

describe('Core: asciiDomain', () => {
  it('gives what the WHATWG host parser gives, for domains of letters, digits, dots and hyphens', () => {
    const label = fc.oneof(
      fc.stringMatching(/^[a-z0-9-]{0,8}$/),
      fc.constantFrom('xn--', 'xn--bcher-kva', 'xn--p1ai', '0x10', '0', '127', 'a--b'),
    );
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
        const domain = labels.join('.');
        expect(asciiDomain(domain)).toBe(domainToASCII(domain));
      }),
      { numRuns: 2_000 },
    );
  });
});
