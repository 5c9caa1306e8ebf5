import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  buildApiMailJob,
  sendRequestSchema,
  validateSendRequest,
} from '../../functions/core/api/send-request';
import type { FormConfig } from '../../functions/core/config/config';
import { ValidationError } from '../../functions/core/errors';
import type { SubmittedFields } from '../../functions/core/forms/form-body';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import { renderSubject, validateSubmission } from '../../functions/core/forms/form-submission';
import { composeMail } from '../../functions/core/mail/mime';
import { CREATED_AT, configWith, JOB_ID } from '../fakes/config';
import { shippedTemplatesNow } from '../support/templates';

/**
 * Whatever a visitor types, the composed message has exactly the headers Postroom sets, once each, with
 * the addresses Postroom chose: no field can add a header (Bcc), split one, or change a recipient.
 */

const config = configWith({
  sender: 'Postroom <no-reply@example.com>',
  forms: [
    {
      id: 'contact',
      recipients: ['owner@example.com', 'sales@example.com'],
      // Every visitor field flows into the subject, the header most exposed to injection.
      subject: '{{name}} | {{message}} | {{topic}} | {{company}}',
      maxExtraFields: 5,
      maxFieldLength: 5_000,
    },
  ],
});
const form = config.forms[0] as FormConfig;

// What composeMail emits for a normal submission (checked by hand): X-Postroom-Job-ID is written by
// nodemailer with that capitalization; header names are case-insensitive, so they are compared lowercased.
const EXPECTED_HEADERS = [
  'content-type',
  'date',
  'from',
  'message-id',
  'mime-version',
  'reply-to',
  'subject',
  'to',
  'x-postroom-job-id',
];

const NASTY = [
  '\r',
  '\n',
  '\r\n',
  '\r\n\r\n',
  '\n\t',
  '\r\n ',
  '\0',
  ': ',
  'Bcc: x@evil.com',
  '\r\nBcc: x@evil.com',
  '\nTo: x@evil.com',
  '\r\n\r\n<html>body</html>',
  '=?utf-8?b?QmNjOiB4QGV2aWwuY29t?=',
  '=?UTF-8?Q?=0D=0ABcc:_x@evil.com?=',
  '=?iso-8859-1?q?=E9?=',
  '=?',
  '?=',
  '"',
  '<x@evil.com>',
  ', x@evil.com',
  ';',
  '\\',
  '\u2028',
  '\u0085',
  '\ufeff',
  '\u00a0',
  'é',
  '😀',
  '\u0301',
  ' ',
  '\t',
  '{{email}}',
];

const nastyPiece = fc.constantFrom(...NASTY);
const shortText = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: nastyPiece },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 12 }) },
    ),
    { maxLength: 10 },
  )
  .map((pieces) => pieces.join(''));
const longText = fc
  .tuple(shortText, fc.integer({ min: 20, max: 400 }), fc.string({ minLength: 1, maxLength: 10 }))
  .map(([text, times, unit]) => `${text}${unit.repeat(times)}${text}`);
const fieldText = fc.oneof({ weight: 5, arbitrary: shortText }, { weight: 1, arbitrary: longText });
// Validation refuses control characters (other than line breaks and tabs in multi-line fields); most runs
// leave them out so they reach the composer, the rest check that refusal is the only other outcome.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are removed
const singleLine = fieldText.map((text) => text.replace(/[\u0000-\u001f\u007f]/g, ''));
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are removed
const BREAKING_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const multiLine = fieldText.map((text) => text.replace(BREAKING_CONTROLS, ''));
const mostlyValid = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: fieldText });

const anyText = fc.record({
  email: fc.emailAddress(),
  name: mostlyValid(singleLine),
  message: mostlyValid(multiLine.map((text) => `x${text}`)),
  topic: mostlyValid(multiLine),
  company: mostlyValid(multiLine),
});

// All-ASCII submissions matter on their own: a pure-ASCII subject may be written as-is, and then an
// encoded-word lookalike typed by a visitor would be decoded by the reader's mail client.
const asciiPiece = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...NASTY.filter((piece) => /^[\t\r\n\x20-\x7e]*$/.test(piece))) },
  // A whole encoded word between blanks, as a decoder recognizes it (RFC 2047 5).
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...NASTY.filter((piece) => /^=\?.+\?=$/.test(piece)))
      .map((word) => ` ${word} `),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }) },
);
const asciiText = fc.array(asciiPiece, { maxLength: 8 }).map((pieces) => pieces.join(''));
const asciiFields = fc.record({
  email: fc.emailAddress(),
  name: asciiText.map((text) => text.replace(/[\r\n\t]/g, ' ')),
  message: asciiText.map((text) => `x${text}`),
  topic: asciiText,
  company: asciiText,
});

const submissionFields = fc.oneof({ weight: 2, arbitrary: anyText }, { weight: 1, arbitrary: asciiFields });

interface Header {
  readonly name: string;
  readonly value: string;
}

/** Splits the header block at the first blank line and unfolds continuation lines (RFC 5322 2.2.3). */
function headerBlock(raw: string): Header[] {
  const end = raw.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  const block = raw.slice(0, end);
  // Only CRLF ends a line; a bare CR or LF would let some parser see a header the others do not.
  expect(block.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  // Header bytes stay 7-bit printable: visitor text goes in encoded words.
  expect(block).toMatch(/^[\t\r\n\x20-\x7e]*$/);
  const unfolded = block.replace(/\r\n(?=[ \t])/g, '');
  return unfolded.split('\r\n').map((line) => {
    const match = /^([\x21-\x39\x3b-\x7e]+):[ \t]*(.*)$/s.exec(line);
    if (!match) throw new Error(`not a header line: ${JSON.stringify(line)}`);
    return { name: (match[1] ?? '').toLowerCase(), value: match[2] ?? '' };
  });
}

function single(headers: ReadonlyArray<Header>, name: string): string {
  const found = headers.filter((h) => h.name === name);
  expect(found, `header ${name}`).toHaveLength(1);
  return found[0]?.value ?? '';
}

/**
 * Runs a submission through validation, job building and composition and checks the headers.
 * Returns false when validation rightly refused the input.
 */
async function composesSafely(fields: SubmittedFields): Promise<boolean> {
  let submission: ReturnType<typeof validateSubmission>;
  try {
    submission = validateSubmission(fields, form);
  } catch (error) {
    if (error instanceof ValidationError) return false;
    throw error;
  }
  const job = buildFormMailJob(
    config,
    form,
    submission,
    { id: JOB_ID, createdAt: CREATED_AT },
    [],
    shippedTemplatesNow(),
  );
  const mail = await composeMail(job);
  const raw = mail.raw.toString('latin1');

  // Assess: exactly the expected headers, once each
  const headers = headerBlock(raw);
  expect(headers.map((h) => h.name).sort()).toEqual(EXPECTED_HEADERS);
  expect(single(headers, 'from')).toBe('Postroom <no-reply@example.com>');
  expect(single(headers, 'to')).toBe('owner@example.com, sales@example.com');
  expect(single(headers, 'reply-to')).toBe(submission.email.address);
  expect(single(headers, 'x-postroom-job-id')).toBe(JOB_ID);
  expect(single(headers, 'message-id')).toBe(`<${JOB_ID}@example.com>`);

  // Assess: the envelope is the configured recipients only
  expect(mail.from).toBe('no-reply@example.com');
  expect(mail.to).toEqual(['owner@example.com', 'sales@example.com']);

  // Assess: a standard parser reads back the same subject and addresses
  const parsed = await simpleParser(mail.raw);
  expect(parsed.subject).toBe(renderSubject(form.subject, submission));
  expect(parsed.bcc).toBeUndefined();
  expect(parsed.cc).toBeUndefined();
  const to = Array.isArray(parsed.to) ? parsed.to : [parsed.to];
  expect(to.flatMap((t) => t?.value.map((v) => v.address))).toEqual([
    'owner@example.com',
    'sales@example.com',
  ]);
  expect(parsed.replyTo?.value.map((v) => v.address)).toEqual([submission.email.address]);
  expect(parsed.from?.value.map((v) => v.address)).toEqual(['no-reply@example.com']);
  return true;
}

describe('Property: MIME headers of a form mail', () => {
  it('has exactly the expected headers for a plain submission', async () => {
    const composed = await composesSafely([
      ['email', 'visitor@example.org'],
      ['name', 'Vera Visitor'],
      ['message', 'Hello'],
    ]);
    expect(composed).toBe(true);
  });

  it('no field content can add, split or change a header', async () => {
    let composed = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(submissionFields, async (f) => {
        const fields: SubmittedFields = [
          ['email', f.email],
          ['name', f.name],
          ['message', f.message],
          ['topic', f.topic],
          ['company', f.company],
        ];
        if (await composesSafely(fields)) composed += 1;
        else refused += 1;
      }),
      { numRuns: 200 },
    );
    // The property means little if validation refused nearly everything.
    expect(composed).toBeGreaterThan(100);
    expect(composed + refused).toBeGreaterThanOrEqual(200);
  });

  it.each([
    ['a CRLF Bcc in the message', { message: 'Hi\r\nBcc: x@evil.com\r\n\r\nbody' }],
    ['a bare LF Bcc in the message', { message: 'Hi\nBcc: x@evil.com' }],
    ['a header-looking name', { name: 'Bcc: x@evil.com' }],
    ['an encoded word that decodes to CRLF Bcc', { name: '=?UTF-8?Q?=0D=0ABcc:_x@evil.com?=' }],
    ['a base64 encoded word in the name', { name: '=?utf-8?b?QmNjOiB4QGV2aWwuY29t?=' }],
    ['an encoded word in an extra field', { topic: '=?utf-8?b?DQpCY2M6IHhAZXZpbC5jb20=?= x' }],
    ['address syntax in the name', { name: 'x@evil.com, "y" <y@evil.com>;' }],
    ['a very long unbroken name', { name: 'A'.repeat(200) }],
    ['a very long message with folding points', { message: `${'word '.repeat(900)}\r\nTo: x@evil.com` }],
    ['unicode line separators', { message: 'a\u2028Bcc: x@evil.com\u0085To: y@evil.com' }],
    ['a placeholder in a value', { name: '{{email}}', topic: '{{message}}' }],
    ['NUL in an extra field (refused)', { company: 'ACME\u0000Bcc: x@evil.com' }],
  ])('keeps the headers intact with %s', async (label, overrides) => {
    // Prepare
    const values = {
      email: 'Visitor@Example.ORG',
      name: 'Vera',
      message: 'Hello',
      topic: 'Quote',
      company: 'ACME',
      ...overrides,
    };
    const fields: SubmittedFields = Object.entries(values);

    // Act
    const composed = await composesSafely(fields);

    // Assess: only the NUL case is refused by validation
    expect(composed).toBe(!label.endsWith('(refused)'));
  });
});

describe('Property: MIME headers of a transactional API mail', () => {
  const schema = sendRequestSchema(config);
  const BCC = 'blind@example.net';
  // As a form mail, without Reply-To (none given), with Cc and the two allow-listed headers; text only,
  // so a single part whose transfer encoding is a top-level header.
  const EXPECTED_API_HEADERS = [
    ...EXPECTED_HEADERS.filter((name) => name !== 'reply-to'),
    'content-transfer-encoding',
    'cc',
    'list-unsubscribe',
    'x-entity-ref-id',
  ].sort();

  /** Returns false when validation rightly refused the input. */
  async function composesSafely(input: {
    name: string;
    subject: string;
    ref: string;
    unsubscribe: string;
  }): Promise<boolean> {
    const validated = validateSendRequest(schema, {
      from: `${input.name} <news@example.com>`,
      to: 'to@example.org',
      cc: 'cc@example.org',
      bcc: BCC,
      subject: input.subject,
      text: 'Hello',
      headers: { 'X-Entity-Ref-ID': input.ref, 'List-Unsubscribe': input.unsubscribe },
    });
    if (!validated.ok) return false;
    const job = buildApiMailJob(validated.request, { id: JOB_ID, createdAt: CREATED_AT, keyId: 'key_main' });
    const mail = await composeMail(job);
    const raw = mail.raw.toString('latin1');

    // Assess: exactly the expected headers, once each; Bcc only in the envelope
    const headers = headerBlock(raw);
    expect(headers.map((h) => h.name).sort()).toEqual(EXPECTED_API_HEADERS);
    expect(single(headers, 'to')).toBe('to@example.org');
    expect(single(headers, 'cc')).toBe('cc@example.org');
    expect(raw).not.toContain(BCC);
    expect(mail.to).toEqual(['to@example.org', 'cc@example.org', BCC]);
    const parsed = await simpleParser(mail.raw);
    // The subject sent is the validated one (trimmed, as a mail reader would show it anyway).
    expect(parsed.subject).toBe(validated.request.subject);
    expect(validated.request.subject).toBe(input.subject.trim());
    expect(parsed.from?.value.map((v) => v.address)).toEqual(['news@example.com']);
    expect(parsed.bcc).toBeUndefined();
    return true;
  }

  it('no subject, display name or header value can add, split or change a header', async () => {
    let composed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          // Display names have their own refusals (address.ts); these reach the composer.
          name: fc.constantFrom('News', 'Café Ünïcode', '', '=?utf-8?b?QmNjOiB4QGV2aWwuY29t?=', 'Bcc: x'),
          subject: mostlyValid(singleLine.map((text) => `x${text}`)),
          ref: mostlyValid(singleLine.map((text) => `r${text}`)),
          unsubscribe: mostlyValid(singleLine.map((text) => `<https://example.com/u/${text}>`)),
        }),
        async (input) => {
          if (await composesSafely(input)) composed += 1;
        },
      ),
      { numRuns: 150 },
    );
    // Not vacuous: enough inputs pass validation to reach the composer. One display name in five is an
    // encoded-word, which validation refuses, and mostlyValid mixes in refused text: about a third compose.
    expect(composed).toBeGreaterThan(30);
  });

  it('refuses a CRLF Bcc in a header value and keeps the headers intact with a lookalike', async () => {
    const base = { name: 'News', subject: 'Hi', ref: 'r1', unsubscribe: '<https://example.com/u>' };
    expect(await composesSafely({ ...base, ref: 'r1\r\nBcc: x@evil.com' })).toBe(false);
    expect(await composesSafely({ ...base, ref: '=?UTF-8?Q?=0D=0ABcc:_x@evil.com?=' })).toBe(true);
    expect(await composesSafely({ ...base, subject: 'Bcc: x@evil.com' })).toBe(true);
  });
});
