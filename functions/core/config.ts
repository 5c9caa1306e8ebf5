import { z } from 'zod';
import { parseAddress, parseMailbox } from './address';
import { ConfigError } from './errors';

/** A single address (`owner@example.com`), checked by the same rules as a visitor's address. */
const addressSchema = z.string().transform((value, ctx) => {
  const parsed = parseAddress(value);
  if (parsed.ok) return parsed.value.address;
  ctx.addIssue({ code: 'custom', message: parsed.reason });
  return z.NEVER;
});

/** A mailbox with an optional display name (`Postroom <no-reply@example.com>`). */
const mailboxSchema = z.string().transform((value, ctx) => {
  const parsed = parseMailbox(value);
  if (parsed.ok) return { name: parsed.value.name, address: parsed.value.address.address };
  ctx.addIssue({ code: 'custom', message: parsed.reason });
  return z.NEVER;
});

const originSchema = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an origin such as https://www.example.com' });
    return;
  }
  // Browsers send the Origin header as scheme://host[:port] with nothing after it.
  if (!['http:', 'https:'].includes(url.protocol) || url.origin !== value) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an origin such as https://www.example.com, with no path',
    });
  }
});

const httpUrlSchema = z.string().superRefine((value, ctx) => {
  try {
    const url = new URL(value);
    if (['http:', 'https:'].includes(url.protocol)) return;
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
});

export const formSchema = z
  .object({
    /** The form's id: the `{formId}` in `POST /v1/forms/{formId}`. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 lowercase letters, digits or dashes'),
    /** Fixed recipients. A visitor never chooses who receives the mail. */
    recipients: z.array(addressSchema).min(1).max(50),
    /** Subject with `{{field}}` placeholders filled from the submission. */
    subject: z.string().min(1).max(200),
    /** Origins allowed to post from a browser (CORS). Requests without an Origin header are not browser posts. */
    allowedOrigins: z.array(originSchema).default([]),
    /** Where plain HTML form posts are sent after a successful submission (303). */
    redirectUrl: httpUrlSchema.optional(),
    /** Fields besides email, name and message that the mail lists. */
    maxExtraFields: z.number().int().min(0).max(50).default(10),
    /** Longest value of any one field, in characters. */
    maxFieldLength: z.number().int().min(1).max(100_000).default(5_000),
  })
  .strict();

const sesTransportSchema = z
  .object({
    kind: z.literal('ses'),
    /** SES configuration set used for event publishing. */
    configurationSet: z.string().min(1).optional(),
  })
  .strict();

const smtpTransportSchema = z
  .object({
    kind: z.literal('smtp'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** true for implicit TLS (port 465); false upgrades with STARTTLS, which `requireTls` makes mandatory. */
    secure: z.boolean().default(false),
    requireTls: z.boolean().default(true),
    /** Verify the server's certificate. Turn off only for a local test server with a self-signed certificate. */
    tlsRejectUnauthorized: z.boolean().default(true),
    /** SMTP AUTH user; the password comes from the environment (POSTROOM_SMTP_PASSWORD), never from config. */
    user: z.string().min(1).optional(),
    maxConnections: z.number().int().min(1).max(50).default(5),
    timeoutSeconds: z.number().int().min(1).max(120).default(20),
  })
  .strict();

export const configSchema = z
  .object({
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
      .default('us-east-1'),
    /** The From of every mail. Must be an identity verified in SES (or accepted by the SMTP relay). */
    sender: mailboxSchema,
    transport: z
      .discriminatedUnion('kind', [sesTransportSchema, smtpTransportSchema])
      .default({ kind: 'ses' }),
    api: z
      .object({
        /** Largest request body accepted, in bytes; larger bodies get 413. */
        maxBodyBytes: z.number().int().min(1_024).max(6_000_000).default(65_536),
      })
      .strict()
      .default({ maxBodyBytes: 65_536 }),
    queue: z
      .object({
        /** Receives before SQS moves a message to the dead-letter queue. */
        maxReceiveCount: z.number().int().min(5).max(1_000).default(5),
        batchSize: z.number().int().min(1).max(10).default(10),
        /** Concurrent relay invocations; keeps the relay within the provider's send rate. */
        maxConcurrency: z.number().int().min(2).max(1_000).default(2),
      })
      .strict()
      .default({ maxReceiveCount: 5, batchSize: 10, maxConcurrency: 2 }),
    relay: z
      .object({
        /** Relay function timeout. The queue's visibility timeout is at least six times this. */
        timeoutSeconds: z.number().int().min(5).max(900).default(30),
        /** How long a claim protects a job being sent; a crashed attempt's claim expires after this. */
        claimLeaseSeconds: z.number().int().min(1).max(43_200).default(60),
        /** Backoff for transient failures: base * 2^(attempt-1), capped, with jitter. */
        retryBaseSeconds: z.number().int().min(0).max(900).default(10),
        retryMaxSeconds: z.number().int().min(0).max(43_200).default(900),
        /** How long idempotency records are kept. Longer than the DLQ's retention, so a redrive cannot resend. */
        recordTtlDays: z.number().int().min(1).max(365).default(30),
      })
      .strict()
      .default({
        timeoutSeconds: 30,
        claimLeaseSeconds: 60,
        retryBaseSeconds: 10,
        retryMaxSeconds: 900,
        recordTtlDays: 30,
      }),
    forms: z.array(formSchema).min(1),
  })
  .strict()
  // `when` runs these rules even when other fields failed, so one run reports every bad field. The
  // value may then be partly invalid, hence the defensive reads.
  .superRefine(crossFieldRules, { when: () => true });

function crossFieldRules(value: unknown, ctx: z.RefinementCtx): void {
  const config = (typeof value === 'object' && value !== null ? value : {}) as {
    forms?: unknown;
    relay?: {
      claimLeaseSeconds?: unknown;
      timeoutSeconds?: unknown;
      retryBaseSeconds?: unknown;
      retryMaxSeconds?: unknown;
    };
  };
  const seen = new Set<unknown>();
  if (Array.isArray(config.forms)) {
    config.forms.forEach((form: unknown, index) => {
      const id = typeof form === 'object' && form !== null ? (form as { id?: unknown }).id : undefined;
      if (typeof id !== 'string') return;
      if (seen.has(id))
        ctx.addIssue({ code: 'custom', path: ['forms', index, 'id'], message: `duplicate form id "${id}"` });
      seen.add(id);
    });
  }
  const relay = config.relay;
  if (typeof relay !== 'object' || relay === null) return;
  if (
    isNumber(relay.claimLeaseSeconds) &&
    isNumber(relay.timeoutSeconds) &&
    relay.claimLeaseSeconds <= relay.timeoutSeconds
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['relay', 'claimLeaseSeconds'],
      message: 'must be longer than relay.timeoutSeconds, or a slow attempt could be overtaken by a retry',
    });
  }
  if (
    isNumber(relay.retryMaxSeconds) &&
    isNumber(relay.retryBaseSeconds) &&
    relay.retryMaxSeconds < relay.retryBaseSeconds
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['relay', 'retryMaxSeconds'],
      message: 'must be >= relay.retryBaseSeconds',
    });
  }
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export type PostroomConfigInput = z.input<typeof configSchema>;
/** Validated configuration: defaults filled in, addresses normalized. */
export type PostroomConfig = z.output<typeof configSchema>;
export type FormConfig = z.output<typeof formSchema>;
export type TransportConfig = PostroomConfig['transport'];

/** Dotted path of a config field, as people write it in cdk.json: `postroom.forms[0].recipients[1]`. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : `${acc}.${String(key)}`),
    'postroom',
  );
}

/**
 * Validates raw configuration (the `postroom` context of cdk.json, after overrides).
 * Throws a ConfigError whose message names every bad field.
 */
export function parseConfig(raw: unknown): PostroomConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    field: fieldPath(issue.path),
    message: issue.message,
  }));
  throw new ConfigError(problems);
}

export function findForm(config: PostroomConfig, formId: string): FormConfig | undefined {
  return config.forms.find((form) => form.id === formId);
}
