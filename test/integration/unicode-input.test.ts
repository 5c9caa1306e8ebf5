import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  type SesEmail,
  startTestStack,
  type TestStack,
  testConfig,
} from '../support/local-stack';

/**
 * The whole Unicode range through the local stack: the API and a form, the queue (fauxqs, which refuses
 * more than real SQS does), the relay and the SES emulator. Every text that is accepted arrives in the
 * delivered mail as it was sent; every text that is refused gets a 422 naming the field. None gets a 503.
 */

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

const isSurrogate = (cp: number) => cp >= 0xd800 && cp <= 0xdfff;
/** The 66 noncharacters (The Unicode Standard, 23.7). */
const isNoncharacter = (cp: number) => (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
const isC0 = (cp: number) => cp < 0x20;

/**
 * Code points to try: five in every row of 256 across all 17 planes (so every block, assigned or not),
 * every C0 and C1 control and DEL, the 66 noncharacters, and lone surrogates from both halves.
 */
function samples(offsets: ReadonlyArray<number>): number[] {
  const points = new Set<number>();
  for (let row = 0; row < 0x1100; row++) for (const offset of offsets) points.add(row * 256 + offset);
  for (let cp = 0; cp <= 0x9f; cp++) if (cp < 0x20 || cp >= 0x7f) points.add(cp);
  for (let cp = 0xfdd0; cp <= 0xfdef; cp++) points.add(cp);
  for (let plane = 0; plane <= 16; plane++)
    points.add(plane * 0x10000 + 0xfffe).add(plane * 0x10000 + 0xffff);
  for (const cp of [0xd800, 0xd8ff, 0xdb7f, 0xdb80, 0xdbff, 0xdc00, 0xdd00, 0xdfff]) points.add(cp);
  return [...points].sort((a, b) => a - b);
}

/** A body may hold TAB, LF and CR; a one-line field (subject, name) no control character at all. */
const refusedInBody = (cp: number) =>
  isSurrogate(cp) || isNoncharacter(cp) || (isC0(cp) && ![0x09, 0x0a, 0x0d].includes(cp)) || cp === 0x7f;
const refusedInLine = (cp: number) => isSurrogate(cp) || isNoncharacter(cp) || isC0(cp) || cp === 0x7f;

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

function chunk<T>(items: ReadonlyArray<T>, size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

describe('Unicode input through the local stack (fauxqs, SES emulator)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig({ api: { maxBodyBytes: 1_000_000 } }), { apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function send(body: unknown) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body),
    });
  }

  function submit(fields: Record<string, string>) {
    return fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(fields),
    });
  }

  const message = (subject: string, text: string) => ({
    from: 'orders@example.com',
    to: 'customer@example.org',
    subject,
    text,
  });

  async function deliveredWith(marker: string): Promise<SesEmail> {
    return eventually(
      async () => (await stack.sesEmails()).find((email) => email.body.text?.includes(marker)),
      10_000,
      marker,
    );
  }

  /** The code points between `start` and `end` in a delivered text, space-separated as they were sent. */
  function between(text: string, start: string, end: string): number[] {
    const from = text.indexOf(start) + start.length;
    return text
      .slice(from, text.indexOf(end, from))
      .split(' ')
      .filter((piece) => piece !== '')
      .map((piece) => piece.codePointAt(0) ?? -1);
  }

  it('delivers an emoji in the subject and the text of an API message', async () => {
    const marker = randomUUID();
    const response = await send(message(`Party 🎉 ${marker}`, `Cake 🍰 ${marker}`));
    expect(response.status).toBe(202);
    const mail = await deliveredWith(marker);
    expect(mail.subject).toBe(`Party 🎉 ${marker}`);
    expect(mail.body.text?.trim()).toBe(`Cake 🍰 ${marker}`);
  });

  it('delivers an emoji in every field of a form submission', async () => {
    const marker = randomUUID();
    const response = await submit({
      email: 'visitor@example.org',
      name: 'Zoë 🦊',
      // A skin tone, a ZWJ family and a flag: sequences of scalar values, each beyond the BMP
      message: `Hello 👋🏽 👩‍👩‍👧 🇳🇿 ${marker}`,
      company: 'Café ☕',
    });
    expect(response.status).toBe(202);
    const mail = await deliveredWith(marker);
    expect(mail.subject).toBe('New message from Zoë 🦊');
    expect(mail.body.text).toContain(`Hello 👋🏽 👩‍👩‍👧 🇳🇿 ${marker}`);
    expect(mail.body.text).toContain('Company: Café ☕');
  });

  it('carries every accepted code point of every plane in an API text, unchanged', async () => {
    // Prepare: the line breaks are looked at on their own below
    const carried = samples([0x00, 0x41, 0x80, 0xc3, 0xff]).filter(
      (cp) => !refusedInBody(cp) && ![0x09, 0x0a, 0x0d, 0x20].includes(cp),
    );
    const batches = chunk(carried, 3_000);
    const sent = batches.map((batch) => ({
      marker: randomUUID(),
      text: batch.map((cp) => String.fromCodePoint(cp)).join(' '),
      batch,
    }));

    // Act
    for (const { marker, text } of sent) {
      const response = await send(message(`Range ${marker}`, `<<${marker}>> ${text} <<end>>`));
      expect(response.status, marker).toBe(202);
    }

    // Assess: each code point arrives, in order, with nothing added or changed
    expect(carried.length).toBeGreaterThan(20_000);
    for (const { marker, batch } of sent) {
      const mail = await deliveredWith(marker);
      const arrived = between(mail.body.text ?? '', `<<${marker}>>`, '<<end>>');
      expect(arrived.map(hex)).toEqual(batch.map(hex));
    }
  });

  it('carries every accepted code point of every plane in a subject, unchanged', async () => {
    const carried = samples([0x00, 0x80]).filter((cp) => !refusedInLine(cp) && cp !== 0x20);
    const sent = chunk(carried, 200).map((batch) => ({ marker: randomUUID(), batch }));

    for (const { marker, batch } of sent) {
      const subject = `[ ${batch.map((cp) => String.fromCodePoint(cp)).join(' ')} ]`;
      const response = await send(message(subject, `Subject check ${marker}`));
      expect(response.status, marker).toBe(202);
    }

    for (const { marker, batch } of sent) {
      const mail = await deliveredWith(marker);
      expect(between(mail.subject, '[', ']').map(hex)).toEqual(batch.map(hex));
    }
  });

  it('carries TAB and line breaks in a text body, as line breaks', async () => {
    const marker = randomUUID();
    const response = await send(message(`Lines ${marker}`, `${marker}\ta\nb\r\nc\rd`));
    expect(response.status).toBe(202);
    const mail = await deliveredWith(marker);
    expect(mail.body.text?.trim()).toBe(`${marker}\ta\nb\nc\nd`);
  });

  it('answers 422 naming the field, never 503, for each code point no mail carries', async () => {
    const points = samples([0x00]);
    const problems: string[] = [];
    const expectRefusal = async (response: Response, field: string, cp: number) => {
      const body = (await response.json()) as { errors?: Array<{ field: string }> };
      if (response.status !== 422 || !body.errors?.some((error) => error.field === field))
        problems.push(`${hex(cp)} in ${field}: ${response.status} ${JSON.stringify(body.errors)}`);
    };

    for (const cp of points.filter(refusedInBody)) {
      const bad = String.fromCodePoint(cp);
      await expectRefusal(await send(message('Refused', `a${bad}b`)), 'text', cp);
      await expectRefusal(await send({ ...message('Refused', 'ok'), html: `<p>a${bad}b</p>` }), 'html', cp);
      await expectRefusal(await submit({ email: 'v@example.org', message: `a${bad}b` }), 'message', cp);
      await expectRefusal(
        await submit({ email: 'v@example.org', message: 'ok', company: `a${bad}b` }),
        'company',
        cp,
      );
    }
    for (const cp of points.filter(refusedInLine)) {
      const bad = String.fromCodePoint(cp);
      await expectRefusal(await send(message(`a${bad}b`, 'ok')), 'subject', cp);
      await expectRefusal(
        await send({ ...message('Refused', 'ok'), from: `Shop ${bad} <orders@example.com>` }),
        'from',
        cp,
      );
      await expectRefusal(
        await submit({ email: 'v@example.org', message: 'ok', name: `a${bad}b` }),
        'name',
        cp,
      );
    }

    expect(problems).toEqual([]);
    // Nothing refused reached the queue.
    await stack.drained(stack.resources.queueUrl);
    expect(await stack.depth(stack.resources.deadLetterQueueUrl)).toBe(0);
  });

  it('measures the escaped job: 413 for a message whose job is over the limit, not 503', async () => {
    // 80,000 emoji are 320,000 bytes of UTF-8 but 960,000 bytes escaped, over the 921,600-byte job limit
    const tooLarge = await send(message('Big', '🎉'.repeat(80_000)));
    expect(tooLarge.status).toBe(413);

    const marker = randomUUID();
    const fits = await send(message(`Fits ${marker}`, `${marker} ${'🎉'.repeat(70_000)}`));
    expect(fits.status).toBe(202);
    const mail = await deliveredWith(marker);
    expect(mail.body.text?.trim()).toBe(`${marker} ${'🎉'.repeat(70_000)}`);
  });
});
