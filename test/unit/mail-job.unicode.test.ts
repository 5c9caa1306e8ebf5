import { describe, expect, it } from 'vitest';
import {
  MAX_MAIL_JOB_BYTES,
  type MailJob,
  mailJobBytes,
  parseMailJob,
  serializeMailJob,
} from '../../functions/core/mail/mail-job';
import { uncarriableText } from '../../functions/core/mail/text';
import { contactJob } from '../fakes/config';

/**
 * The queue carries every Unicode scalar value: the job body is printable ASCII, which both real SQS and
 * fauxqs accept, and it parses back to the same job. Checked over the whole code space, plane by plane.
 */

/** What SQS accepts in a message body, as its API reference states it (code points, not UTF-16 units). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: TAB, LF and CR are in the rule as SQS states it
const SQS_BODY = /^[\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;
/** What fauxqs 1.9 accepts: the same ranges tested on UTF-16 units, so nothing beyond the BMP. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: TAB, LF and CR are in the rule as fauxqs states it
const FAUXQS_BODY = /^[\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]*$/;

/** A scalar value is every code point but the surrogates (Unicode 3.9, D76). */
const isScalar = (cp: number) => cp < 0xd800 || cp > 0xdfff;
/** The 66 noncharacters (Unicode 23.7): U+FDD0..U+FDEF and U+xxFFFE, U+xxFFFF in each of the 17 planes. */
const isNoncharacter = (cp: number) => (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;

/** Every code point from `start`, in chunks of `size`, as strings (a surrogate alone is a lone surrogate). */
function* chunks(start: number, end: number, size: number, keep: (cp: number) => boolean) {
  for (let from = start; from <= end; from += size) {
    let text = '';
    for (let cp = from; cp < Math.min(from + size, end + 1); cp++)
      if (keep(cp)) text += String.fromCodePoint(cp);
    yield text;
  }
}

function jobWith(text: string): MailJob {
  const { job } = contactJob();
  return { ...job, text, html: text, subject: `x${text.slice(0, 900)}` };
}

describe('Core: serializeMailJob over the whole Unicode range', () => {
  it('writes printable ASCII that SQS and fauxqs accept, and reads back every scalar value', () => {
    let checked = 0;
    for (const text of chunks(0, 0x10ffff, 8192, (cp) => isScalar(cp))) {
      // Prepare: every scalar value of the chunk, in the body and the subject
      const job = jobWith(text);

      // Act
      const body = serializeMailJob(job);

      // Assess
      expect(body).toMatch(/^[\x20-\x7e]*$/);
      expect(body).toMatch(SQS_BODY);
      expect(body).toMatch(FAUXQS_BODY);
      expect(JSON.parse(body)).toEqual(job);
      checked += [...text].length;
    }
    expect(checked).toBe(0x110000 - 0x800);
  });

  it('writes lone surrogates as escapes too, so even a job the schema refuses never reaches SQS raw', () => {
    const body = serializeMailJob(jobWith('\ud800 \udfff \udc00\ud800'));
    expect(body).toMatch(/^[\x20-\x7e]*$/);
    expect(body).toContain('\\ud800 \\udfff \\udc00\\ud800');
  });

  it('measures a job in bytes of its serialized, escaped body', () => {
    // Prepare: 1000 emoji are 4,000 bytes of UTF-8 and 12,000 escaped
    const emoji = '🎉'.repeat(1000);
    const plain = jobWith('x');
    const job = jobWith(emoji);

    // Act
    const bytes = mailJobBytes(job);

    // Assess: body and html carry them, the subject 450 of them
    expect(bytes).toBe(Buffer.byteLength(serializeMailJob(job)));
    expect(bytes - mailJobBytes(plain)).toBe(12 * (1000 + 1000 + 450) - 3);
    expect(MAX_MAIL_JOB_BYTES).toBeLessThan(1_048_576);
  });
});

describe('Core: parseMailJob reads both serializations', () => {
  it('reads a job written before the escaping (raw UTF-8 text), as jobs queued during a deploy are', () => {
    const job = jobWith('Grüße 🎉 مرحبا \u0085 \u2028');
    const raw = JSON.stringify(job);
    expect(raw).toContain('🎉');
    expect(parseMailJob(raw)).toEqual({ ok: true, job });
    expect(parseMailJob(serializeMailJob(job))).toEqual({ ok: true, job });
  });

  it.each([
    ['a lone high surrogate', '\ud800', 'text'],
    ['a lone low surrogate', 'a\udfffb', 'text'],
    ['U+FFFE', '\ufffe', 'text'],
    ['U+10FFFF', '\u{10ffff}', 'html'],
  ])('dead-letters a job whose %s the producers would have refused', (_, bad, field) => {
    const job = { ...jobWith('ok'), [field]: bad };
    expect(parseMailJob(serializeMailJob(job))).toEqual({
      ok: false,
      reason: `invalid-job: ${field} is not text a mail can carry`,
    });
  });
});

describe('Core: uncarriableText', () => {
  it('refuses exactly the lone surrogates and the 66 noncharacters, over every code point', () => {
    const refused: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (uncarriableText(String.fromCodePoint(cp)) !== undefined) refused.push(cp);
    }
    const expected: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) if (!isScalar(cp) || isNoncharacter(cp)) expected.push(cp);
    expect(expected).toHaveLength(0x800 + 66);
    expect(refused).toEqual(expected);
  });

  it('accepts a surrogate pair and refuses either half alone', () => {
    expect(uncarriableText('😀')).toBeUndefined();
    expect(uncarriableText('x\ud83d')).toBe(
      'must be valid Unicode text: it has a lone surrogate (U+D83D), which has no UTF-8 form',
    );
    expect(uncarriableText('\ude00x')).toBe(
      'must be valid Unicode text: it has a lone surrogate (U+DE00), which has no UTF-8 form',
    );
    expect(uncarriableText('a\u{1fffe}')).toBe('must not contain the Unicode noncharacter U+1FFFE');
  });
});
