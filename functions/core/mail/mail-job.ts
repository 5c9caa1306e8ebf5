import * as z from 'zod/mini';
import { checkFilename, MIME_TYPE } from '../forms/uploads';
import { MAX_ADDRESS_LENGTH, MAX_DISPLAY_NAME_LENGTH, parseAddress } from './address';
import { uncarriableText } from './text';
import '../zod';

/**
 * The queue message: one mail, fully rendered by the send function, relayed as-is by the relay function.
 * The schema below is the one definition of its shape: the consumer parses every job with it, and property
 * tests hold the producers to it. `v` is bumped on any change a consumer of the previous version could not
 * read; relays then accept both versions until the queue has drained.
 */

/** Largest attachment a job may name: the most any form may accept (config `files.maxFileBytes`). */
const MAX_ATTACHMENT_BYTES = 10_485_760;

export const MAIL_JOB_VERSION = 1;

/** Most recipients of one mail, to, cc and bcc together: SES's limit per message. */
export const MAX_RECIPIENTS = 50;

/**
 * Headers a transactional sender may set, beyond those Postroom writes itself. Anything else (From, To,
 * Bcc, Received, DKIM...) could forge or misroute mail, so it is not on the list.
 * List-Unsubscribe: RFC 2369 and RFC 8058 (one-click, which Gmail and Yahoo require of bulk senders).
 */
export const ALLOWED_HEADERS = ['List-Unsubscribe', 'List-Unsubscribe-Post', 'X-Entity-Ref-ID'] as const;
export type AllowedHeader = (typeof ALLOWED_HEADERS)[number];

/** A header value: one line, printable, within RFC 5322's 998-character line limit. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
export const HEADER_VALUE = /^[^\u0000-\u001f\u007f]{1,998}$/;

/** SES message tags: names and values of ASCII letters, digits, `_` and `-`, at most 256 characters. */
export const TAG_TEXT = /^[A-Za-z0-9_-]{1,256}$/;
/** Most tags a sender sets; Postroom adds its own `postroom-job-id`. SES accepts up to 50. */
export const MAX_TAGS = 10;

/**
 * The schema, built at its first use: building zod schemas costs time at cold start, and only the consumer
 * (the relay) parses jobs. The send function never needs it.
 */
function buildMailJobSchema() {
  /** An address already parsed by the producer; the consumer checks it again by the same rules. */
  const sendableAddress = z.string().check(
    z.maxLength(MAX_ADDRESS_LENGTH),
    z.refine((value) => {
      const parsed = parseAddress(value);
      return parsed.ok && parsed.value.address === value;
    }, 'is not a normalized address'),
  );

  const attachmentFields = {
    filename: z.string().check(
      z.refine((value) => {
        const checked = checkFilename(value);
        return checked.ok && checked.filename === value;
      }, 'is not a plain file name'),
    ),
    contentType: z.string().check(z.regex(MIME_TYPE)),
    /** Bytes of the file itself (not of its base64). */
    size: z.number().check(z.int(), z.gte(0), z.lte(MAX_ATTACHMENT_BYTES)),
  };

  /** A small file carried in the job itself, base64-encoded. */
  const inlineAttachmentSchema = z
    .strictObject({ ...attachmentFields, content: z.base64() })
    .check(z.refine((file) => base64Bytes(file.content) === file.size, 'content is not of the stated size'));

  /**
   * A claim check: the file waits in the attachments bucket under `attachments/<job id>/<index>` and the
   * relay fetches it. The key is bound to this job's id by the job-level check below.
   */
  const blobAttachmentSchema = z.strictObject({
    ...attachmentFields,
    blob: z.strictObject({ key: z.string().check(z.regex(/^attachments\/[0-9a-f-]{36}\/\d{1,2}$/)) }),
  });

  const tagSchema = z.strictObject({
    name: z.string().check(z.regex(TAG_TEXT)),
    value: z.string().check(z.regex(TAG_TEXT)),
  });

  /**
   * Where a job comes from. A contact form (or its autoresponse) names the form; the transactional API names
   * the API key's id. `api` was added within version 1, like `autoresponse`: deploy the relay first.
   */
  const sourceSchema = z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.enum(['form', 'autoresponse']),
      formId: z.string().check(z.minLength(1), z.maxLength(64)),
    }),
    z.strictObject({ kind: z.literal('api'), keyId: z.string().check(z.minLength(1), z.maxLength(64)) }),
  ]);

  /** Text a mail can carry (text.ts): the producers refuse the rest with a 422 naming the field. */
  const carriable = z.refine<string>(
    (value: string) => uncarriableText(value) === undefined,
    'is not text a mail can carry',
  );

  return z
    .strictObject({
      v: z.literal(MAIL_JOB_VERSION),
      id: z.uuid(),
      // `autoresponse`: the confirmation a form sends its visitor. Added within version 1: deploy the relay
      // (which reads both kinds) before a send function that writes the new kind.
      source: sourceSchema,
      createdAt: z.iso.datetime(),
      from: z.strictObject({
        name: z.optional(z.string().check(z.maxLength(MAX_DISPLAY_NAME_LENGTH), carriable)),
        address: sendableAddress,
      }),
      to: z.array(sendableAddress).check(z.minLength(1), z.maxLength(MAX_RECIPIENTS)),
      /** Copies, in the Cc header. Optional fields, like attachments, added within version 1. */
      cc: z.optional(z.array(sendableAddress).check(z.minLength(1), z.maxLength(MAX_RECIPIENTS))),
      /** Blind copies: in the envelope only, never in a header. */
      bcc: z.optional(z.array(sendableAddress).check(z.minLength(1), z.maxLength(MAX_RECIPIENTS))),
      /** Headers from ALLOWED_HEADERS, set by an API sender. */
      headers: z.optional(
        z.partialRecord(z.enum(ALLOWED_HEADERS), z.string().check(z.regex(HEADER_VALUE), carriable)),
      ),
      /** Message tags for SES (EmailTags); the SMTP transport ignores them. */
      tags: z.optional(z.array(tagSchema).check(z.minLength(1), z.maxLength(MAX_TAGS))),
      replyTo: z.optional(sendableAddress),
      subject: z.string().check(z.minLength(1), z.maxLength(998), carriable),
      text: z.string().check(carriable),
      html: z.string().check(carriable),
      /**
       * Files attached to the mail. Added without bumping `v`: the field is optional, so every version-1 job
       * written before it still parses. A relay older than this field would dead-letter a job that has it
       * (the schema is strict), with the reason; one `cdk deploy` updates both functions together.
       */
      attachments: z.optional(
        z
          .array(z.union([inlineAttachmentSchema, blobAttachmentSchema]))
          .check(z.minLength(1), z.maxLength(10)),
      ),
      /**
       * The schedule marker of a scheduled message (core/scheduling): the time it was scheduled for, which the
       * relay compares with the message's record under its claim, so a canceled or moved schedule never sends.
       * Jobs without it (all unscheduled mail) cost the relay no extra read. Optional, added within version 1.
       */
      scheduledAt: z.optional(z.iso.datetime()),
    })
    .check(
      z.refine((job) => job.to.length + (job.cc?.length ?? 0) + (job.bcc?.length ?? 0) <= MAX_RECIPIENTS, {
        message: `has more than ${MAX_RECIPIENTS} recipients in to, cc and bcc`,
        path: ['to'],
      }),
      z.refine(
        (job) =>
          (job.attachments ?? []).every(
            (file) => !('blob' in file) || file.blob.key.startsWith(`attachments/${job.id}/`),
          ),
        { message: 'names an attachment of another job', path: ['attachments'] },
      ),
    );
}

type MailJobSchema = ReturnType<typeof buildMailJobSchema>;
let builtSchema: MailJobSchema | undefined;

function schema(): MailJobSchema {
  builtSchema ??= buildMailJobSchema();
  return builtSchema;
}

/** The relay's boundary: what a job must be for the relay to send it. */
export const mailJobSchema = {
  parse: (value: unknown): MailJob => schema().parse(value),
  safeParse: (value: unknown) => schema().safeParse(value),
};

export type MailJob = z.infer<MailJobSchema>;
export type MailJobAttachment = NonNullable<MailJob['attachments']>[number];
export type InlineAttachment = Extract<MailJobAttachment, { content: string }>;
export type BlobAttachment = Extract<MailJobAttachment, { blob: unknown }>;

/** Everyone the mail is delivered to: to, cc and bcc (the SMTP RCPT TO list, SES's Destination). */
export function envelopeRecipients(job: {
  readonly to: ReadonlyArray<string>;
  readonly cc?: ReadonlyArray<string> | undefined;
  readonly bcc?: ReadonlyArray<string> | undefined;
}): string[] {
  return [...job.to, ...(job.cc ?? []), ...(job.bcc ?? [])];
}

/**
 * SQS's own limit on a message is 1 MiB; this keeps a job well inside it with room for attributes. It is
 * measured on the serialized body, which is ASCII: one byte per character, whatever the text was.
 */
export const MAX_MAIL_JOB_BYTES = 900 * 1024;

/**
 * The queue message body of each job, written once: the producer measures a job against the SQS limit and
 * the queue adapter then sends the same text. Jobs are not changed once built, so a job's text is its own.
 */
const serialized = new WeakMap<MailJob, string>();

export function mailJobBytes(job: MailJob): number {
  // The body is ASCII (see serializeMailJob), so its length in UTF-16 units is its length in bytes.
  return serializeMailJob(job).length;
}

/**
 * A job as the queue message body: JSON in printable ASCII, every character outside U+0020-U+007E written
 * as a `\uXXXX` escape (a character beyond the BMP as its two escaped surrogates, RFC 8259 section 7).
 *
 * SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF in a message body
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html), and the
 * local emulator, fauxqs, refuses everything outside the BMP as well (it tests UTF-16 units, so it sees an
 * emoji's two surrogates). Raw text made SendMessage fail for such a job on every try: the API answered 503
 * to a request that retrying could never cure. Escaped, every Unicode scalar value is carried by any SQS.
 * The cost is size: a non-ASCII character takes 6 bytes (12 beyond the BMP) instead of 2 to 4 in UTF-8;
 * MAX_MAIL_JOB_BYTES is measured on this text, so the bound stays honest.
 *
 * Compatibility: the escaped and the raw form are the same JSON value, so JSON.parse reads both. A relay of
 * either version reads the jobs of the other, and jobs queued before this change still parse: no `v` bump.
 *
 * The producer builds jobs from parts it has already validated (the submission, the API request, the
 * configuration), so the schema is not run again here: it is the relay's boundary, and property tests prove
 * every job a producer builds parses with it.
 */
export function serializeMailJob(job: MailJob): string {
  let body = serialized.get(job);
  if (body === undefined) {
    body = asciiJson(JSON.stringify(job));
    serialized.set(job, body);
  }
  return body;
}

// JSON.stringify already escapes C0 controls and lone surrogates (well-formed JSON.stringify, ES2019); this
// escapes DEL and every UTF-16 unit above it. Bytes written into a buffer, not a replace callback: about
// 5 times faster here for non-ASCII text, which matters for a body of hundreds of thousands of characters.
const NOT_PRINTABLE_ASCII = /[\u007f-\uffff]/;
const HEX_DIGIT = Buffer.from('0123456789abcdef');

function asciiJson(json: string): string {
  if (!NOT_PRINTABLE_ASCII.test(json)) return json;
  const out = Buffer.allocUnsafe(json.length * 6);
  let end = 0;
  for (let i = 0; i < json.length; i++) {
    const unit = json.charCodeAt(i);
    if (unit < 0x7f) {
      out[end++] = unit;
      continue;
    }
    out[end++] = 0x5c; // backslash
    out[end++] = 0x75; // u
    out[end++] = HEX_DIGIT[unit >> 12] as number;
    out[end++] = HEX_DIGIT[(unit >> 8) & 15] as number;
    out[end++] = HEX_DIGIT[(unit >> 4) & 15] as number;
    out[end++] = HEX_DIGIT[unit & 15] as number;
  }
  return out.toString('latin1', 0, end);
}

export type ParsedJob = { ok: true; job: MailJob } | { ok: false; reason: string };

export function parseMailJob(body: string): ParsedJob {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'invalid-job: not JSON' };
  }
  const result = schema().safeParse(raw);
  if (result.success) return { ok: true, job: result.data };
  const first = result.error.issues[0];
  return {
    ok: false,
    reason: `invalid-job: ${first ? `${first.path.join('.') || '(root)'} ${first.message}` : 'schema'}`,
  };
}

/** Decoded length of padded base64, without decoding it. */
function base64Bytes(content: string): number {
  const padding = content.endsWith('==') ? 2 : content.endsWith('=') ? 1 : 0;
  return (content.length / 4) * 3 - padding;
}
