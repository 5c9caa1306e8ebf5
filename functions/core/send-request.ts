import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseAddress, parseMailbox } from './address';
import type { PostroomConfig } from './config';
import type { FieldError } from './errors';
import type { UploadedFile } from './form-body';
import {
  ALLOWED_HEADERS,
  type AllowedHeader,
  HEADER_VALUE,
  MAIL_JOB_VERSION,
  MAX_RECIPIENTS,
  MAX_TAGS,
  type MailJob,
  type MailJobAttachment,
  TAG_TEXT,
} from './mail-job';
import { checkFilename, contentMatchesType, MIME_TYPE } from './uploads';

/**
 * The body of `POST /v1/send` (and of each message of `/v1/send/batch`): one schema, whose output is what the
 * MailJob is built from. Addresses go through the same rules as everywhere else (address.ts) and are sent as
 * parsed; `from` must be at the configured sender's domain, so a key holder cannot send as anyone else.
 */

const address = z.string().transform((value, ctx) => {
  const parsed = parseAddress(value);
  if (parsed.ok) return parsed.value.address;
  ctx.addIssue({ code: 'custom', message: parsed.reason });
  return z.NEVER;
});

/** One address or a list of them, as senders write either. */
const addressList = z.preprocess(
  (value) => (typeof value === 'string' ? [value] : value),
  z.array(address).min(1).max(MAX_RECIPIENTS),
);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const ONE_LINE = /^[^\u0000-\u001f\u007f]*$/;

const MAX_BODY_CHARS = 500_000;
/** Attachments of one API message: bounded in count here, in bytes by api.maxBodyBytes. */
const MAX_ATTACHMENTS = 10;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * `{ filename, contentType, content }` with the content in base64. The name and the bytes get the same
 * checks as a form's uploads: a plain name, and bytes that can be a file of the declared type.
 */
const attachment = z
  .object({
    filename: z.string().max(1_000),
    contentType: z.string().toLowerCase().regex(MIME_TYPE, 'must be a MIME type such as application/pdf'),
    content: z.string().min(1).regex(BASE64, 'must be base64'),
  })
  .strict()
  .transform((value, ctx): UploadedFile => {
    const name = checkFilename(value.filename);
    if (!name.ok) {
      ctx.addIssue({ code: 'custom', path: ['filename'], message: name.reason });
      return z.NEVER;
    }
    const content = Buffer.from(value.content, 'base64');
    if (!contentMatchesType(content, value.contentType)) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: `is not a ${value.contentType} file` });
      return z.NEVER;
    }
    return { field: 'attachments', filename: name.filename, contentType: value.contentType, content };
  });

export function sendRequestSchema(config: PostroomConfig) {
  const senderDomain = domainOf(config.sender.address);
  const from = z.string().transform((value, ctx) => {
    const parsed = parseMailbox(value);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    }
    if (parsed.value.address.domain !== senderDomain) {
      ctx.addIssue({ code: 'custom', message: `must be an address at ${senderDomain}, the sending domain` });
      return z.NEVER;
    }
    return { name: parsed.value.name, address: parsed.value.address.address };
  });
  const headers = z.record(z.string(), z.string()).transform((value, ctx) => {
    const out: Partial<Record<AllowedHeader, string>> = {};
    for (const [name, rawValue] of Object.entries(value)) {
      // Mail readers drop the whitespace around a header value; what is sent is what they will show.
      const headerValue = rawValue.trim();
      const canonical = ALLOWED_HEADERS.find((allowed) => allowed.toLowerCase() === name.toLowerCase());
      if (canonical === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [name.slice(0, 64)],
          message: `is not an allowed header (allowed: ${ALLOWED_HEADERS.join(', ')})`,
        });
      } else if (!HEADER_VALUE.test(headerValue)) {
        ctx.addIssue({
          code: 'custom',
          path: [canonical],
          message: 'must be one line of 1 to 998 characters without control characters',
        });
      } else out[canonical] = headerValue;
    }
    return out;
  });
  return z
    .object({
      from,
      to: addressList,
      cc: addressList.optional(),
      bcc: addressList.optional(),
      replyTo: address.optional(),
      subject: z
        .string()
        .trim()
        .min(1)
        .max(998)
        .regex(ONE_LINE, 'must be one line without control characters'),
      text: z.string().max(MAX_BODY_CHARS).optional(),
      html: z.string().max(MAX_BODY_CHARS).optional(),
      headers: headers.optional(),
      tags: z
        .array(
          z
            .object({
              name: z.string().regex(TAG_TEXT, 'must be 1 to 256 of A-Z a-z 0-9 _ -'),
              value: z.string().regex(TAG_TEXT, 'must be 1 to 256 of A-Z a-z 0-9 _ -'),
            })
            .strict(),
        )
        .max(MAX_TAGS)
        .optional(),
      attachments: z.array(attachment).max(MAX_ATTACHMENTS).optional(),
    })
    .strict()
    .superRefine((request, ctx) => {
      const count = request.to.length + (request.cc?.length ?? 0) + (request.bcc?.length ?? 0);
      if (count > MAX_RECIPIENTS) {
        ctx.addIssue({
          code: 'custom',
          path: ['to'],
          message: `to, cc and bcc together must have at most ${MAX_RECIPIENTS} recipients`,
        });
      }
      if (!request.text && !request.html) {
        ctx.addIssue({ code: 'custom', path: ['text'], message: 'text or html is required' });
      }
    });
}

export type SendRequest = z.output<ReturnType<typeof sendRequestSchema>>;

export type ValidatedSend = { ok: true; request: SendRequest } | { ok: false; errors: FieldError[] };

export function validateSendRequest(
  schema: ReturnType<typeof sendRequestSchema>,
  body: unknown,
): ValidatedSend {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, request: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({
      field: fieldName(issue.path),
      detail: issue.message,
    })),
  };
}

/** `to.1`, `headers.X-Foo`: the client's own names for the field at fault. */
function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return (
    path
      .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
      .join('')
      .replace(/^\./, '') || '(body)'
  );
}

/** The fingerprint an Idempotency-Key is bound to: the validated request, not its formatting. */
export function payloadHash(request: SendRequest): string {
  const attachments = request.attachments?.map((file) => ({
    filename: file.filename,
    contentType: file.contentType,
    sha256: createHash('sha256').update(file.content).digest('base64url'),
  }));
  return createHash('sha256')
    .update(JSON.stringify({ ...request, attachments }))
    .digest('base64url');
}

export function buildApiMailJob(
  request: SendRequest,
  meta: { id: string; createdAt: Date; keyId: string },
  attachments: ReadonlyArray<MailJobAttachment> = [],
): MailJob {
  const from = request.from.name === undefined ? { address: request.from.address } : request.from;
  return {
    v: MAIL_JOB_VERSION,
    id: meta.id,
    source: { kind: 'api', keyId: meta.keyId },
    createdAt: meta.createdAt.toISOString(),
    from,
    to: request.to,
    ...(request.cc ? { cc: request.cc } : {}),
    ...(request.bcc ? { bcc: request.bcc } : {}),
    ...(request.replyTo ? { replyTo: request.replyTo } : {}),
    subject: request.subject,
    text: request.text ?? '',
    html: request.html ?? '',
    ...(request.headers && Object.keys(request.headers).length > 0 ? { headers: request.headers } : {}),
    ...(request.tags && request.tags.length > 0 ? { tags: request.tags } : {}),
    ...(attachments.length > 0 ? { attachments: [...attachments] } : {}),
  };
}

function domainOf(value: string): string {
  return value.slice(value.lastIndexOf('@') + 1);
}
