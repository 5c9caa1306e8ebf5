import type { OutboundMail } from '../ports';
import { envelopeRecipients, type MailJob } from './mail-job';

/**
 * nodemailer's MIME composer is loaded with the first job a process composes, not at the relay's cold
 * start: it is about a quarter of the relay's code, and its load and compile measured about a tenth of the
 * cold start. A container pays it once either way; this way its first batch does, not its init. The
 * promise is kept, so it is loaded once per process.
 */
let nodemailerMime:
  | Promise<[typeof import('nodemailer/lib/mail-composer'), typeof import('nodemailer/lib/mime-funcs')]>
  | undefined;
function loadNodemailerMime() {
  nodemailerMime ??= Promise.all([
    import('nodemailer/lib/mail-composer'),
    import('nodemailer/lib/mime-funcs'),
  ]);
  return nodemailerMime;
}

/**
 * Builds the RFC 5322 message for a job. Every address is passed as an already-parsed object, so
 * nodemailer never parses a string address again; header values are encoded and folded by nodemailer,
 * which turns CR, LF and other control characters into encoded words instead of header syntax. The
 * property tests check that no field can add or change a header, and that the subject a mail client
 * shows is the text the visitor typed.
 */
export async function composeMail(
  job: MailJob,
  /** The bytes of the job's bucket attachments, by key (see fetchAttachments). */
  stored: ReadonlyMap<string, Buffer> = new Map(),
): Promise<OutboundMail> {
  const domain = job.from.address.slice(job.from.address.lastIndexOf('@') + 1);
  const recipients = envelopeRecipients(job);
  const [{ default: MailComposer }, { encodeWord }] = await loadNodemailerMime();
  const composer = new MailComposer({
    from: { name: job.from.name ?? '', address: job.from.address },
    to: job.to.map((address) => ({ name: '', address })),
    cc: job.cc?.map((address) => ({ name: '', address })),
    // Bcc is deliberately not given to the composer: blind copies live in the envelope only.
    replyTo: job.replyTo === undefined ? undefined : { name: '', address: job.replyTo },
    subject: job.subject.includes('=?') ? undefined : job.subject,
    text: job.text,
    html: job.html,
    date: new Date(job.createdAt),
    messageId: `<${job.id}@${domain}>`,
    headers: {
      // Allow-listed names only (mail-job.ts); the values are single-line and nodemailer encodes them.
      ...job.headers,
      'X-Postroom-Job-Id': job.id,
      ...(job.subject.includes('=?')
        ? { Subject: { prepared: true, foldLines: true, value: literalSubject(job.subject, encodeWord) } }
        : {}),
    },
    // Keep the envelope to exactly the job's recipients, blind copies included.
    envelope: { from: job.from.address, to: recipients },
    // Content is always bytes in hand: nodemailer never reads a path or fetches a URL for a job.
    attachments: (job.attachments ?? []).map((file) => ({
      filename: file.filename,
      contentType: file.contentType,
      contentDisposition: 'attachment' as const,
      content: 'content' in file ? Buffer.from(file.content, 'base64') : storedBytes(stored, file.blob.key),
    })),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const raw = await composer.compile().build();
  return {
    jobId: job.id,
    from: job.from.address,
    to: recipients,
    raw,
    ...(job.tags === undefined ? {} : { tags: job.tags }),
    ...(job.source.kind === 'api' ? {} : { formId: job.source.formId }),
  };
}

/**
 * A subject holding `=?` may contain text that is itself a well-formed RFC 2047 encoded word (a visitor
 * can type `=?utf-8?b?...?=`), which a mail client would decode into other text, line breaks included.
 * Encoding the whole subject makes the client show exactly the typed characters: decoded text is never
 * decoded again (RFC 2047 section 6.1).
 */
function literalSubject(
  subject: string,
  encodeWord: typeof import('nodemailer/lib/mime-funcs')['encodeWord'],
): string {
  return encodeWord(subject, 'B', 52);
}

function storedBytes(stored: ReadonlyMap<string, Buffer>, key: string): Buffer {
  const bytes = stored.get(key);
  if (bytes === undefined) throw new Error(`attachment ${key} was not fetched`);
  return bytes;
}
