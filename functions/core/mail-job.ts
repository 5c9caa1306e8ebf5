import { z } from 'zod';
import { MAX_ADDRESS_LENGTH, MAX_DISPLAY_NAME_LENGTH, parseAddress } from './address';
import { checkFilename, MIME_TYPE } from './uploads';

/**
 * The queue message: one mail, fully rendered by the send function, relayed as-is by the relay function.
 * Producer and consumer both go through this schema. `v` is bumped on any change a consumer of the
 * previous version could not read; relays then accept both versions until the queue has drained.
 */

/** An address already parsed by the producer; the consumer checks it again by the same rules. */
const sendableAddress = z
  .string()
  .max(MAX_ADDRESS_LENGTH)
  .refine((value) => {
    const parsed = parseAddress(value);
    return parsed.ok && parsed.value.address === value;
  }, 'is not a normalized address');

/** Largest attachment a job may name: the most any form may accept (config `files.maxFileBytes`). */
const MAX_ATTACHMENT_BYTES = 10_485_760;

const attachmentFields = {
  filename: z.string().refine((value) => {
    const checked = checkFilename(value);
    return checked.ok && checked.filename === value;
  }, 'is not a plain file name'),
  contentType: z.string().regex(MIME_TYPE),
  /** Bytes of the file itself (not of its base64). */
  size: z.number().int().min(0).max(MAX_ATTACHMENT_BYTES),
};

/** A small file carried in the job itself, base64-encoded. */
const inlineAttachmentSchema = z
  .object({ ...attachmentFields, content: z.base64() })
  .strict()
  .refine((file) => base64Bytes(file.content) === file.size, 'content is not of the stated size');

/**
 * A claim check: the file waits in the attachments bucket under `attachments/<job id>/<index>` and the
 * relay fetches it. The key is bound to this job's id by the job-level check below.
 */
const blobAttachmentSchema = z
  .object({
    ...attachmentFields,
    blob: z.object({ key: z.string().regex(/^attachments\/[0-9a-f-]{36}\/\d{1,2}$/) }).strict(),
  })
  .strict();

export const MAIL_JOB_VERSION = 1;

export const mailJobSchema = z
  .object({
    v: z.literal(MAIL_JOB_VERSION),
    id: z.uuid(),
    // `autoresponse`: the confirmation a form sends its visitor. Added within version 1: deploy the relay
    // (which reads both kinds) before a send function that writes the new kind.
    source: z.object({ kind: z.enum(['form', 'autoresponse']), formId: z.string().min(1).max(64) }).strict(),
    createdAt: z.iso.datetime(),
    from: z
      .object({ name: z.string().max(MAX_DISPLAY_NAME_LENGTH).optional(), address: sendableAddress })
      .strict(),
    to: z.array(sendableAddress).min(1).max(50),
    replyTo: sendableAddress.optional(),
    subject: z.string().min(1).max(998),
    text: z.string(),
    html: z.string(),
    /**
     * Files attached to the mail. Added without bumping `v`: the field is optional, so every version-1 job
     * written before it still parses. A relay older than this field would dead-letter a job that has it
     * (the schema is strict), with the reason; one `cdk deploy` updates both functions together.
     */
    attachments: z
      .array(z.union([inlineAttachmentSchema, blobAttachmentSchema]))
      .min(1)
      .max(10)
      .optional(),
  })
  .strict()
  .refine(
    (job) =>
      (job.attachments ?? []).every(
        (file) => !('blob' in file) || file.blob.key.startsWith(`attachments/${job.id}/`),
      ),
    { message: 'names an attachment of another job', path: ['attachments'] },
  );

export type MailJob = z.infer<typeof mailJobSchema>;
export type MailJobAttachment = NonNullable<MailJob['attachments']>[number];
export type InlineAttachment = z.infer<typeof inlineAttachmentSchema>;
export type BlobAttachment = z.infer<typeof blobAttachmentSchema>;

/** SQS's own limit on a message is 1 MiB; this keeps a job well inside it with room for attributes. */
export const MAX_MAIL_JOB_BYTES = 900 * 1024;

export function mailJobBytes(job: MailJob): number {
  return Buffer.byteLength(JSON.stringify(job));
}

export function serializeMailJob(job: MailJob): string {
  return JSON.stringify(mailJobSchema.parse(job));
}

export type ParsedJob = { ok: true; job: MailJob } | { ok: false; reason: string };

export function parseMailJob(body: string): ParsedJob {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'invalid-job: not JSON' };
  }
  const result = mailJobSchema.safeParse(raw);
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
