import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import type { PostroomConfig } from '../config/config';
import type { FieldError } from '../errors';
import type { UploadedFile } from '../forms/form-body';
import { checkFilename, contentMatchesType, MIME_TYPE } from '../forms/uploads';
import { parseAddress, parseMailbox } from '../mail/address';
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
} from '../mail/mail-job';
import { CONTROL_BUT_LINES, uncarriableText } from '../mail/text';
import { addIssue } from '../zod';

/**
 * The body of `POST /v1/send` (and of each message of `/v1/send/batch`): one schema, whose output is what the
 * MailJob is built from. Addresses go through the same rules as everywhere else (address.ts) and are sent as
 * parsed; `from` must be at the configured sender's domain, so a key holder cannot send as anyone else.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const ONE_LINE = /^[^\u0000-\u001f\u007f]*$/;

const MAX_BODY_CHARS = 500_000;

/** Attachments of one API message: bounded in count here, in bytes by api.maxBodyBytes. */
const MAX_ATTACHMENTS = 10;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What a template rendered to (templates/render.ts), used instead of the request's subject and body. */
export interface RenderedContent {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

/** Checks a rendered subject as a given one is checked; undefined when it fits. */
export function subjectProblem(value: string): string | undefined {
  const result = fieldSchemas().subject.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}

/**
 * The field schemas, built at their first use (then kept): building zod schemas is most of what this module
 * would cost a cold start, and a cold start that serves a form, a status read or a preflight needs none.
 */
function buildFieldSchemas() {
  const address = z.pipe(
    z.string(),
    z.transform((value: string, ctx) => {
      const parsed = parseAddress(value);
      return parsed.ok ? parsed.value.address : addIssue(ctx, parsed.reason);
    }),
  );

  /** One address or a list of them, as senders write either. */
  const addressList = z.pipe(
    z.transform((value: unknown) => (typeof value === 'string' ? [value] : value)),
    z.array(address).check(z.minLength(1), z.maxLength(MAX_RECIPIENTS)),
  );

  /** Text a mail can carry (text.ts): no lone surrogate, no noncharacter. */
  const carriable = z.superRefine((value: string, ctx) => {
    const reason = uncarriableText(value);
    if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason, input: value });
  });

  /**
   * A mail body: carriable text, and no control character but TAB, LF and CR (as a form's message). Line
   * breaks are made LF, as a form's are: the mail writes each as CRLF, whereas a bare CR would reach the
   * message as it is, which RFC 5322 section 2.3 does not allow.
   */
  const bodyText = z.string().check(
    z.maxLength(MAX_BODY_CHARS),
    z.overwrite((value: string) => (value.includes('\r') ? value.replace(/\r\n?/g, '\n') : value)),
    z.refine(
      (value) => !CONTROL_BUT_LINES.test(value),
      'must not contain control characters other than tab and line breaks',
    ),
    carriable,
  );

  /** A subject header's text: one line (RFC 5322 section 2.1.1 caps a line at 998 characters). */
  const subject = z
    .string()
    .check(
      z.trim(),
      z.minLength(1),
      z.maxLength(998),
      z.regex(ONE_LINE, 'must be one line without control characters'),
      carriable,
    );

  /**
   * `template: {id, variables}` instead of html/text: the id is looked up and the variables checked against
   * its declaration after this schema (send-api.ts), each with its own error.
   */
  const templateReference = z.strictObject({
    id: z.string().check(z.maxLength(64)),
    variables: z.optional(z.record(z.string(), z.unknown())),
  });

  /**
   * `{ filename, contentType, content }` with the content in base64. The name and the bytes get the same
   * checks as a form's uploads: a plain name, and bytes that can be a file of the declared type.
   */
  const attachment = z.pipe(
    z.strictObject({
      filename: z.string().check(z.maxLength(1_000)),
      contentType: z
        .string()
        .check(z.toLowerCase(), z.regex(MIME_TYPE, 'must be a MIME type such as application/pdf')),
      content: z.string().check(z.minLength(1), z.regex(BASE64, 'must be base64')),
    }),
    z.transform((value: { filename: string; contentType: string; content: string }, ctx): UploadedFile => {
      const name = checkFilename(value.filename);
      if (!name.ok) return addIssue(ctx, name.reason, ['filename']);
      const content = Buffer.from(value.content, 'base64');
      if (!contentMatchesType(content, value.contentType))
        return addIssue(ctx, `is not a ${value.contentType} file`, ['content']);
      return { field: 'attachments', filename: name.filename, contentType: value.contentType, content };
    }),
  );
  return { address, addressList, bodyText, subject, templateReference, attachment };
}

let fields: ReturnType<typeof buildFieldSchemas> | undefined;

function fieldSchemas(): ReturnType<typeof buildFieldSchemas> {
  fields ??= buildFieldSchemas();
  return fields;
}

/**
 * The schema for a configuration, built once per configuration (once per process on Lambda): building a
 * schema costs far more than parsing with it, and the API asks for it on every request.
 */
export function sendRequestSchema(config: PostroomConfig): SendRequestSchema {
  let schema = schemas.get(config);
  if (schema === undefined) {
    schema = buildSendRequestSchema(config);
    schemas.set(config, schema);
  }
  return schema;
}

type SendRequestSchema = ReturnType<typeof buildSendRequestSchema>;
const schemas = new WeakMap<PostroomConfig, SendRequestSchema>();

function buildSendRequestSchema(config: PostroomConfig) {
  const { address, addressList, bodyText, subject, templateReference, attachment } = fieldSchemas();
  const senderDomain = domainOf(config.sender.address);
  const from = z.pipe(
    z.string(),
    z.transform((value: string, ctx) => {
      const parsed = parseMailbox(value);
      if (!parsed.ok) return addIssue(ctx, parsed.reason);
      if (parsed.value.address.domain !== senderDomain)
        return addIssue(ctx, `must be an address at ${senderDomain}, the sending domain`);
      return { name: parsed.value.name, address: parsed.value.address.address };
    }),
  );
  const headers = z.pipe(
    z.record(z.string(), z.string()),
    z.transform((value: Record<string, string>, ctx) => {
      const out: Partial<Record<AllowedHeader, string>> = {};
      for (const [name, rawValue] of Object.entries(value)) {
        // Mail readers drop the whitespace around a header value; what is sent is what they will show.
        const headerValue = rawValue.trim();
        const canonical = ALLOWED_HEADERS.find((allowed) => allowed.toLowerCase() === name.toLowerCase());
        if (canonical === undefined) {
          addIssue(ctx, `is not an allowed header (allowed: ${ALLOWED_HEADERS.join(', ')})`, [
            name.slice(0, 64),
          ]);
        } else {
          const unfit = HEADER_VALUE.test(headerValue)
            ? uncarriableText(headerValue)
            : 'must be one line of 1 to 998 characters without control characters';
          if (unfit === undefined) out[canonical] = headerValue;
          else addIssue(ctx, unfit, [canonical]);
        }
      }
      return out;
    }),
  );
  return z
    .strictObject({
      from,
      to: addressList,
      cc: z.optional(addressList),
      bcc: z.optional(addressList),
      replyTo: z.optional(address),
      subject: z.optional(subject),
      text: z.optional(bodyText),
      html: z.optional(bodyText),
      headers: z.optional(headers),
      tags: z.optional(
        z
          .array(
            z.strictObject({
              name: z.string().check(z.regex(TAG_TEXT, 'must be 1 to 256 of A-Z a-z 0-9 _ -')),
              value: z.string().check(z.regex(TAG_TEXT, 'must be 1 to 256 of A-Z a-z 0-9 _ -')),
            }),
          )
          .check(z.maxLength(MAX_TAGS)),
      ),
      attachments: z.optional(z.array(attachment).check(z.maxLength(MAX_ATTACHMENTS))),
      template: z.optional(templateReference),
      /** When to send (core/scheduling/schedule.ts parseScheduledAt checks it against the clock). */
      scheduledAt: z.optional(z.string().check(z.maxLength(64))),
    })
    .check(
      z.superRefine((request, ctx) => {
        const count = request.to.length + (request.cc?.length ?? 0) + (request.bcc?.length ?? 0);
        if (count > MAX_RECIPIENTS) {
          ctx.addIssue({
            code: 'custom',
            path: ['to'],
            message: `to, cc and bcc together must have at most ${MAX_RECIPIENTS} recipients`,
          });
        }
        if (request.template !== undefined) {
          // A template renders both parts; a body given beside it would be silently dropped.
          for (const part of ['text', 'html'] as const) {
            if (request[part] !== undefined)
              ctx.addIssue({ code: 'custom', path: [part], message: 'must not be given with a template' });
          }
        } else {
          if (!request.text && !request.html) {
            ctx.addIssue({ code: 'custom', path: ['text'], message: 'text or html is required' });
          }
          if (request.subject === undefined) {
            ctx.addIssue({ code: 'custom', path: ['subject'], message: 'is required without a template' });
          }
        }
      }),
    );
}

export type SendRequest = z.output<SendRequestSchema>;

export type ValidatedSend = { ok: true; request: SendRequest } | { ok: false; errors: FieldError[] };

export function validateSendRequest(schema: SendRequestSchema, body: unknown): ValidatedSend {
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
  rendered?: RenderedContent,
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
    // A given subject overrides the template's.
    subject: request.subject ?? rendered?.subject ?? '',
    text: rendered?.text ?? request.text ?? '',
    html: rendered?.html ?? request.html ?? '',
    ...(request.headers && Object.keys(request.headers).length > 0 ? { headers: request.headers } : {}),
    ...(request.tags && request.tags.length > 0 ? { tags: request.tags } : {}),
    ...(attachments.length > 0 ? { attachments: [...attachments] } : {}),
  };
}

function domainOf(value: string): string {
  return value.slice(value.lastIndexOf('@') + 1);
}
