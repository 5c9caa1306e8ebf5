import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { checkFilename } from '../../functions/core/forms/uploads';
import type { MailJob } from '../../functions/core/mail/mail-job';
import { composeMail } from '../../functions/core/mail/mime';
import { contactJob, JOB_ID } from '../fakes/config';
import { sampleFile } from '../support/multipart';

const BLOB_KEY = `attachments/${JOB_ID}/1`;

describe('Core: composeMail with attachments', () => {
  it('attaches inline and fetched files with their names, types and exact bytes', async () => {
    // Prepare
    const pdf = sampleFile('pdf', 3_000);
    const png = sampleFile('png', 70_000);
    const job: MailJob = {
      ...contactJob().job,
      attachments: [
        {
          filename: 'Angebot für Müller.pdf',
          contentType: 'application/pdf',
          size: pdf.length,
          content: pdf.toString('base64'),
        },
        { filename: 'photo.png', contentType: 'image/png', size: png.length, blob: { key: BLOB_KEY } },
      ],
    };

    // Act
    const mail = await composeMail(job, new Map([[BLOB_KEY, png]]));

    // Assess
    const parsed = await simpleParser(mail.raw);
    expect(parsed.text).toContain('Hello, I would like a quote.');
    expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.contentDisposition, a.size])).toEqual([
      ['Angebot für Müller.pdf', 'application/pdf', 'attachment', 3_000],
      ['photo.png', 'image/png', 'attachment', 70_000],
    ]);
    expect(parsed.attachments[0]?.content.equals(pdf)).toBe(true);
    expect(parsed.attachments[1]?.content.equals(png)).toBe(true);
  });

  it('refuses to compose a job whose bucket attachment was not fetched', async () => {
    const job: MailJob = {
      ...contactJob().job,
      attachments: [{ filename: 'photo.png', contentType: 'image/png', size: 10, blob: { key: BLOB_KEY } }],
    };
    await expect(composeMail(job)).rejects.toThrow(`attachment ${BLOB_KEY} was not fetched`);
  });

  it('keeps any accepted file name as the attachment name, without adding a header', async () => {
    const bytes = sampleFile('pdf', 20);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((name) => {
          const checked = checkFilename(name);
          return checked.ok && checked.filename === name;
        }),
        async (filename) => {
          const job: MailJob = {
            ...contactJob().job,
            attachments: [
              {
                filename,
                contentType: 'application/pdf',
                size: bytes.length,
                content: bytes.toString('base64'),
              },
            ],
          };
          const parsed = await simpleParser((await composeMail(job)).raw);
          expect(parsed.attachments.map((a) => a.filename)).toEqual([filename]);
          expect(parsed.headers.has('bcc')).toBe(false);
          expect(parsed.attachments[0]?.content.equals(bytes)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
