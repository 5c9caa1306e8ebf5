import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPostroomContext } from '../../local/config-file';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * A corpus of hostile requests against the shipped contact form on the local stack. Each case states
 * the exact status; at the end, the SES inbox holds exactly the mail of the cases that should send, and
 * the queue is empty. Each case comes from its own loopback address, so the per-IP limit only bites in
 * the flood case.
 */

interface Case {
  name: string;
  status: number;
  /** The field a 422 must name in its `errors`. */
  field?: string;
  /** A marker the case's mail would carry if it were sent (absent: the case must send nothing). */
  sends?: string;
  method?: string;
  contentType?: string;
  headers?: Record<string, string>;
  body: string | Buffer;
}

const json = (value: unknown) => JSON.stringify(value);
const ok = { email: 'visitor@example.org', message: 'Hello' };
const multipart = (parts: string, boundary = 'XyZ') => ({
  contentType: `multipart/form-data; boundary=${boundary}`,
  body: `${parts}--${boundary}--\r\n`,
});
const part = (name: string, value: string, extra = '') =>
  `--XyZ\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n${value}\r\n`;

const CASES: Case[] = [
  // Header injection through every field
  { name: 'CRLF Bcc in name', status: 422, body: json({ ...ok, name: 'Eve\r\nBcc: victim@example.com' }) },
  { name: 'LF To in name', status: 422, body: json({ ...ok, name: 'Eve\nTo: victim@example.com' }) },
  { name: 'bare CR in name', status: 422, body: json({ ...ok, name: 'Eve\rSubject: x' }) },
  { name: 'NUL in name', status: 422, body: json({ ...ok, name: 'Eve\u0000' }) },
  { name: 'NUL in message', status: 422, body: json({ ...ok, message: 'hi\u0000there' }) },
  { name: 'vertical tab in message', status: 422, body: json({ ...ok, message: 'hi\u000bthere' }) },
  { name: 'CRLF in email', status: 422, body: json({ ...ok, email: 'a@example.org\r\nBcc: v@example.com' }) },
  {
    name: 'CRLF in extra field value',
    status: 202,
    sends: 'extra-crlf',
    body: json({ ...ok, message: 'extra-crlf', company: 'A\r\nBcc: v@example.com' }),
  },
  { name: 'CRLF in extra field name', status: 422, body: json({ ...ok, 'x\r\nBcc': 'v@example.com' }) },
  {
    name: 'encoded-word Bcc in name',
    status: 202,
    sends: 'ew-b',
    body: json({ ...ok, name: '=?utf-8?b?QmNjOiB4QGV2aWwuY29t?=', message: 'ew-b' }),
  },
  {
    name: 'encoded-word CRLF in name',
    status: 202,
    sends: 'ew-q',
    body: json({ ...ok, name: '=?UTF-8?Q?=0D=0ABcc:_x@evil.com?=', message: 'ew-q' }),
  },
  {
    name: 'body lines that look like headers',
    status: 202,
    sends: 'body-headers',
    body: json({ ...ok, message: 'body-headers\r\n\r\nBcc: v@example.com\r\n.\r\nMAIL FROM:<x@evil.com>' }),
  },
  {
    name: 'unicode line separator in name',
    status: 202,
    sends: 'u2028',
    body: json({ ...ok, name: 'Eve\u2028Bcc: v@example.com', message: 'u2028' }),
  },
  // Address-parser attacks
  { name: 'two @', status: 422, body: json({ ...ok, email: 'a@b@example.org' }) },
  { name: 'address list', status: 422, body: json({ ...ok, email: 'a@example.org, v@example.com' }) },
  { name: 'group syntax', status: 422, body: json({ ...ok, email: 'g: a@example.org, v@example.com;' }) },
  { name: 'nested groups', status: 422, body: json({ ...ok, email: `${'g:'.repeat(100)}a@example.org` }) },
  { name: 'comment', status: 422, body: json({ ...ok, email: 'a(comment)@example.org' }) },
  { name: 'quoted local part with space', status: 422, body: json({ ...ok, email: '"a b"@example.org' }) },
  {
    name: 'quoted local part hiding an address',
    status: 422,
    body: json({ ...ok, email: '"v@example.com x"@example.org' }),
  },
  { name: 'IP literal', status: 422, body: json({ ...ok, email: 'a@[127.0.0.1]' }) },
  { name: 'numeric domain', status: 422, body: json({ ...ok, email: 'a@127.0.0.1' }) },
  { name: 'non-ASCII local part', status: 422, body: json({ ...ok, email: 'jöhn@example.org' }) },
  { name: 'display name in email', status: 422, body: json({ ...ok, email: 'Eve <a@example.org>' }) },
  { name: 'oversized address', status: 422, body: json({ ...ok, email: `${'a'.repeat(300)}@example.org` }) },
  {
    name: 'huge address (bounded before parsing)',
    status: 422,
    body: json({ ...ok, email: `${'a'.repeat(60_000)}@x.org` }),
  },
  // Encoded-words in the address ("Splitting the email atom", PortSwigger Research, 2024). RFC 2047 forbids
  // them in an addr-spec; a parser that decodes them anyway reads another address out of the local part:
  // Python's email package turns the first one into the local part "attacker@evil.example" (address.test.ts
  // shows it), and mailparser into an empty address.
  ...(
    [
      ['Q', '=?utf-8?q?attacker=40evil.example?=@example.org'],
      ['Q, upper case', '=?UTF-8?Q?attacker=40evil.example?=@example.org'],
      ['B', '=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=@example.org'],
      ['B with > inside', '=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxlPg==?=@example.org'],
      ['another charset', '=?iso-8859-1?q?attacker=40evil.example?=@example.org'],
      ['UTF-7', '=?utf-7?q?attacker+AEA-evil.example?=@example.org'],
      ['UTF-7 with >', '=?utf-7?q?attacker+AEA-evil.example+AD4-?=@example.org'],
      ['NUL smuggled', '=?utf-8?q?attacker=40evil.example=00?=@example.org'],
      ['> smuggled', '=?utf-8?q?attacker=40evil.example=3e?=@example.org'],
      ['CRLF smuggled', '=?utf-8?q?x=0d=0abcc=3aattacker=40evil.example?=@example.org'],
      ['partially encoded', 'visitor=?utf-8?q?=40evil.example?=@example.org'],
      ['unterminated', '=?utf-8?q?attacker=40evil.example@example.org'],
      ['with a language tag', '=?utf-8*en?q?attacker=40evil.example?=@example.org'],
      ['in the domain', 'visitor@=?utf-8?q?evil.example?='],
      ['fullwidth @', 'attacker\uff20evil.example@example.org'],
      ['fullwidth @ in the domain', 'visitor@evil.example\uff20example.org'],
      ['small commercial at', 'visitor@evil.example\ufe6bexample.org'],
    ] as const
  ).map(([kind, email]) => ({
    name: `encoded-word address: ${kind}`,
    status: 422,
    field: 'email',
    body: json({ ...ok, email }),
  })),
  {
    name: 'encoded-word address, urlencoded',
    status: 422,
    field: 'email',
    contentType: 'application/x-www-form-urlencoded',
    body: 'email=%3D%3Futf-8%3Fq%3Fattacker%3D40evil.example%3F%3D%40example.org&message=hi',
  },
  {
    name: 'encoded-word address, multipart',
    status: 422,
    field: 'email',
    ...multipart(
      part('email', '=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=@example.org') + part('message', 'hi'),
    ),
  },
  // Text no mail can carry: 422 naming the field, not a 503 from the queue
  {
    name: 'lone surrogate in message',
    status: 422,
    field: 'message',
    body: json({ ...ok, message: 'hi \ud800' }),
  },
  { name: 'noncharacter in name', status: 422, field: 'name', body: json({ ...ok, name: 'Eve \uffff' }) },
  { name: 'U+FFFE in extra field', status: 422, field: 'company', body: json({ ...ok, company: '\ufffe' }) },
  {
    name: 'emoji in every field',
    status: 202,
    sends: 'emoji 🎉',
    body: json({ ...ok, name: '🦊', message: 'emoji 🎉' }),
  },
  { name: 'missing email', status: 422, body: json({ message: 'Hello' }) },
  { name: 'missing message', status: 422, body: json({ email: 'a@example.org' }) },
  { name: 'email as a number', status: 422, body: json({ ...ok, email: 42 }) },
  {
    name: 'email as an array',
    status: 422,
    body: json({ ...ok, email: ['a@example.org', 'v@example.com'] }),
  },
  {
    name: 'email given twice (urlencoded)',
    status: 422,
    contentType: 'application/x-www-form-urlencoded',
    body: 'email=a%40example.org&email=v%40example.com&message=hi',
  },
  // Oversized and malformed bodies
  { name: 'body over 64 KiB', status: 413, body: json({ ...ok, message: 'x'.repeat(70_000) }) },
  { name: 'field over 5000 characters', status: 422, body: json({ ...ok, message: 'x'.repeat(5_001) }) },
  {
    name: 'too many fields',
    status: 422,
    body: json(
      Object.fromEntries(
        [...Array(30)]
          .map((_, i) => [`f${i}`, 'x'])
          .concat([
            ['email', 'a@example.org'],
            ['message', 'hi'],
          ]),
      ),
    ),
  },
  { name: 'truncated JSON', status: 400, body: '{"email":' },
  { name: 'JSON array', status: 400, body: '["a@example.org"]' },
  { name: 'JSON string', status: 400, body: '"hello"' },
  { name: 'JSON null', status: 400, body: 'null' },
  { name: 'empty JSON body', status: 400, body: '' },
  { name: 'multipart without boundary', status: 400, contentType: 'multipart/form-data', body: 'x' },
  {
    name: 'truncated multipart',
    status: 400,
    contentType: 'multipart/form-data; boundary=XyZ',
    body: `${part('email', 'a@example.org')}--XyZ\r\nContent-Disposition: form-data; name="message"\r\n\r\nunfinished`,
  },
  {
    name: 'multipart file upload',
    status: 422,
    ...multipart(
      part('email', 'a@example.org') + part('message', 'hi') + part('cv', 'MZ...', '; filename="cv.exe"'),
    ),
  },
  // Wrong content types and methods
  { name: 'text/plain', status: 415, contentType: 'text/plain', body: 'hello' },
  { name: 'application/xml', status: 415, contentType: 'application/xml', body: '<a/>' },
  { name: 'no content type', status: 415, contentType: '', body: json(ok) },
  { name: 'GET on the form', status: 405, method: 'GET', body: '' },
  // Origins and redirects
  {
    name: 'browser post from another origin',
    status: 403,
    headers: { origin: 'https://evil.example' },
    body: json(ok),
  },
  { name: 'null origin', status: 403, headers: { origin: 'null' }, body: json(ok) },
  {
    name: 'origin with a trailing path trick',
    status: 403,
    headers: { origin: 'http://localhost:3000.evil.example' },
    body: json(ok),
  },
  {
    name: 'open redirect via _next',
    status: 422,
    contentType: 'application/x-www-form-urlencoded',
    body: 'email=a%40example.org&message=hi&_next=https%3A%2F%2Fevil.example',
  },
  {
    name: 'protocol-relative _next',
    status: 422,
    contentType: 'application/x-www-form-urlencoded',
    body: 'email=a%40example.org&message=hi&_next=%2F%2Fevil.example',
  },
  {
    name: 'javascript: _next',
    status: 422,
    contentType: 'application/x-www-form-urlencoded',
    body: 'email=a%40example.org&message=hi&_next=javascript%3Aalert(1)',
  },
  // Spam
  { name: 'honeypot filled', status: 202, body: json({ ...ok, message: 'honeypot-case', _gotcha: 'x' }) },
  {
    name: 'four links',
    status: 422,
    body: json({ ...ok, message: 'http://a.example http://b.example http://c.example www.d.example' }),
  },
  { name: 'unknown form', status: 404, body: json(ok) },
];

function send(
  stackUrl: string,
  testCase: Case,
  localAddress: string,
): Promise<{ status: number; fields: string[] }> {
  const path = testCase.name === 'unknown form' ? '/v1/forms/does-not-exist' : '/v1/forms/contact';
  return new Promise((resolve, reject) => {
    const body = Buffer.isBuffer(testCase.body) ? testCase.body : Buffer.from(testCase.body);
    const contentType = testCase.contentType ?? 'application/json';
    const req = request(
      `${stackUrl}${path}`,
      {
        method: testCase.method ?? 'POST',
        localAddress,
        headers: {
          ...(contentType ? { 'content-type': contentType } : {}),
          accept: 'application/json',
          'content-length': body.length,
          ...testCase.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (data: Buffer) => chunks.push(data));
        res.on('end', () => {
          let fields: string[] = [];
          try {
            const problem = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              errors?: Array<{ field: string }>;
            };
            fields = problem.errors?.map((error) => error.field) ?? [];
          } catch {
            // Not a problem document (a 202 or 303 body): no fields to name.
          }
          resolve({ status: res.statusCode ?? 0, fields });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Hostile input: a corpus against the shipped contact form', () => {
  let stack: TestStack;

  beforeAll(async () => {
    const shipped = (readPostroomContext(FIXTURE_CONFIG_FILE) as { forms: Array<Record<string, unknown>> })
      .forms[0];
    stack = await startTestStack(testConfig({ forms: [shipped] }));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('has at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, testCase, index) => {
    const { status, fields } = await send(
      stack.apiUrl,
      testCase,
      `127.0.${1 + Math.floor(index / 240)}.${10 + (index % 240)}`,
    );
    expect(status).toBe(testCase.status);
    if (testCase.field !== undefined) expect(fields).toContain(testCase.field);
  });

  it('answers a flood from one address with 429 after the fifth request', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++)
      statuses.push(
        (
          await send(
            stack.apiUrl,
            { name: 'flood', status: 0, body: json({ ...ok, message: `flood ${i}` }) },
            '127.0.9.9',
          )
        ).status,
      );
    expect(statuses).toEqual([202, 202, 202, 202, 202, ...Array(7).fill(429)]);
  });

  it('sent exactly the mail of the cases that should send, and left nothing on the queue', async () => {
    await stack.drained(stack.resources.queueUrl);
    await sleep(300);
    const texts = (await stack.sesEmails()).map((email) => email.body.text ?? '');
    const expected = CASES.flatMap((c) => (c.sends ? [c.sends] : []));
    // The notification's text part: a one-line message beside its label, a longer one under it.
    for (const marker of expected)
      expect(
        texts.filter((t) => t.includes(`Message: ${marker}`) || t.includes(`Message:\n${marker}`)),
      ).toHaveLength(1);
    // The five floods that were accepted, and nothing else.
    expect(texts).toHaveLength(expected.length + 5);
    expect(await stack.depth(stack.resources.deadLetterQueueUrl)).toBe(0);
  });
});
