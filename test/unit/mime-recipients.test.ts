import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import type { MailJob } from '../../functions/core/mail/mail-job';
import { composeMail } from '../../functions/core/mail/mime';
import { contactJob } from '../fakes/config';

function apiJob(change: Partial<MailJob> = {}): MailJob {
  return {
    ...contactJob().job,
    source: { kind: 'api', keyId: 'key_main' },
    to: ['to@example.org'],
    cc: ['copy@example.org'],
    bcc: ['hidden@example.net', 'secret@example.net'],
    ...change,
  };
}

describe('Core: composeMail recipients and API headers', () => {
  it('puts Cc in the headers, Bcc in the envelope only', async () => {
    // Act
    const mail = await composeMail(apiJob());
    const parsed = await simpleParser(mail.raw);
    const headerBlock = mail.raw.toString('utf8').split('\r\n\r\n', 1)[0] ?? '';

    // Assess
    expect(mail.to).toEqual([
      'to@example.org',
      'copy@example.org',
      'hidden@example.net',
      'secret@example.net',
    ]);
    expect(parsed.cc && !Array.isArray(parsed.cc) ? parsed.cc.value : []).toEqual([
      { name: '', address: 'copy@example.org' },
    ]);
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(headerBlock).not.toMatch(/hidden|secret/);
    expect(mail.raw.toString('utf8')).not.toMatch(/hidden@|secret@/);
  });

  it('writes the allow-listed headers and passes the tags on', async () => {
    // Act
    const mail = await composeMail(
      apiJob({
        headers: {
          'List-Unsubscribe': '<https://example.com/u/1>, <mailto:unsubscribe@example.com>',
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
        tags: [{ name: 'category', value: 'receipt' }],
      }),
    );
    const parsed = await simpleParser(mail.raw);

    // Assess
    // Unfolded (RFC 5322 2.2.3): nodemailer folds long header lines at a comma.
    expect(mail.raw.toString('utf8').replace(/\r\n /g, ' ')).toContain(
      'List-Unsubscribe: <https://example.com/u/1>, <mailto:unsubscribe@example.com>\r\n',
    );
    expect(mail.raw.toString('utf8')).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(parsed.headers.get('x-postroom-job-id')).toBe(mail.jobId);
    expect(mail.tags).toEqual([{ name: 'category', value: 'receipt' }]);
  });
});
