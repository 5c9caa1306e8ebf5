import { z } from 'zod';
import { MAX_ADDRESS_LENGTH, MAX_DISPLAY_NAME_LENGTH, parseAddress } from './address';

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
  })
  .strict();

export type MailJob = z.infer<typeof mailJobSchema>;

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
