import * as z from 'zod/mini';
import { ConfigError } from '../errors';
import { parseAddress, parseMailbox } from '../mail/address';
import { uncarriableText } from '../mail/text';
import { MONITORING_LEVELS } from '../monitoring';
import { addIssue } from '../zod';
import { describeIssue, fieldPath } from './config-messages';
import { subjectPlaceholderProblems } from './subject-placeholders';
import { webhookRules, webhookSchema } from './webhook-config';

/** A single address (`owner@example.com`), checked by the same rules as a visitor's address. */
const addressSchema = z.pipe(
  z.string(),
  z.transform((value: string, ctx) => {
    const parsed = parseAddress(value);
    return parsed.ok ? parsed.value.address : addIssue(ctx, parsed.reason);
  }),
);

/** Text that goes into mail: no lone surrogate, no noncharacter (text.ts says why). */
const carriable = z.superRefine((value: string, ctx) => {
  const reason = uncarriableText(value);
  if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason, input: value });
});

/** A mailbox with an optional display name (`Postroom <no-reply@example.com>`). */
const mailboxSchema = z.pipe(
  z.string(),
  z.transform((value: string, ctx) => {
    const parsed = parseMailbox(value);
    return parsed.ok
      ? { name: parsed.value.name, address: parsed.value.address.address }
      : addIssue(ctx, parsed.reason);
  }),
);

const originSchema = z.string().check(
  z.superRefine((value, ctx) => {
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
  }),
);

const httpUrlSchema = z.string().check(
  z.superRefine((value, ctx) => {
    try {
      const url = new URL(value);
      if (['http:', 'https:'].includes(url.protocol)) return;
    } catch {}
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
  }),
);

/** At most `max` submissions in any fixed window of `windowSeconds`. */
const windowLimitSchema = z.strictObject({
  max: z.number().check(z.int(), z.gte(1), z.lte(1_000_000)),
  windowSeconds: z.number().check(z.int(), z.gte(1), z.lte(86_400)),
});

/** Cloudflare Turnstile, hCaptcha or Google reCAPTCHA (v2 checkbox, v3 score), verified server side. */
const captchaSchema = z.strictObject({
  provider: z.enum(['turnstile', 'hcaptcha', 'recaptcha-v2', 'recaptcha-v3']),
  /**
   * Secrets Manager name or ARN of the provider's secret key (a plain string), read at cold start on AWS.
   * Locally the secret comes from POSTROOM_CAPTCHA_SECRET_<FORM_ID> (the id upper-cased, dashes as _).
   */
  secret: z.string().check(z.minLength(1), z.maxLength(2048)),
  /** The provider's siteverify endpoint; tests point it at a verifier on loopback. */
  verifyUrl: z.optional(httpUrlSchema),
  /** Hostnames the token must have been issued on. @default the hostnames of allowedOrigins */
  hostnames: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(253)))),
  /** The widget action the token must carry (Turnstile, reCAPTCHA v3). */
  action: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  /** Lowest reCAPTCHA v3 score accepted, 0 (bot) to 1 (person). */
  minScore: z._default(z.number().check(z.gte(0), z.lte(1)), 0.5),
  /** How long to wait for the verifier before answering 503. */
  timeoutMs: z._default(z.number().check(z.int(), z.gte(100), z.lte(10_000)), 3_000),
});

export const formSchema = z.strictObject({
  /** The form's id: the `{formId}` in `POST /v1/forms/{formId}`. */
  id: z
    .string()
    .check(z.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 lowercase letters, digits or dashes')),
  /** Fixed recipients. A visitor never chooses who receives the mail. */
  recipients: z.array(addressSchema).check(z.minLength(1), z.maxLength(50)),
  /** Subject with `{{field}}` placeholders filled from the submission. */
  subject: z.string().check(z.minLength(1), z.maxLength(200), carriable),
  /** Origins allowed to post from a browser (CORS). Requests without an Origin header are not browser posts. */
  allowedOrigins: z._default(z.array(originSchema), []),
  /** Where plain HTML form posts are sent after a successful submission (303). */
  redirectUrl: z.optional(httpUrlSchema),
  /**
   * Where plain HTML form posts that are refused are sent (303), with `?error=<reason>&field=<name>` added
   * (reason: validation, origin, rate-limited, captcha, too-large, unavailable...). Without it, the visitor
   * gets a short HTML page that lists the problems and links back to the form.
   */
  errorRedirectUrl: z.optional(httpUrlSchema),
  /** Fields besides email, name and message that the mail lists. */
  maxExtraFields: z._default(z.number().check(z.int(), z.gte(0), z.lte(50)), 10),
  /** Longest value of any one field, in characters. */
  maxFieldLength: z._default(z.number().check(z.int(), z.gte(1), z.lte(100_000)), 5_000),
  /** Thank-you URLs a form may pick with its `_next` field; anything else is refused (no open redirect). */
  allowedRedirects: z._default(z.array(httpUrlSchema).check(z.maxLength(20)), []),
  captcha: z.optional(captchaSchema),
  /**
   * A fixed confirmation mailed to the visitor once every guard has passed. It holds only the text
   * configured here, never anything the visitor wrote, so the form cannot be used to mail strangers
   * a spammer's message (backscatter).
   */
  autoresponse: z.optional(
    z.strictObject({
      subject: z.string().check(z.minLength(1), z.maxLength(200), carriable),
      text: z.string().check(z.minLength(1), z.maxLength(20_000), carriable),
      html: z.optional(z.string().check(z.minLength(1), z.maxLength(50_000), carriable)),
      /** Confirmations one address can receive from this form per window. */
      perRecipient: z._default(windowLimitSchema, { max: 1, windowSeconds: 86_400 }),
    }),
  ),
  /** Submissions per client IP and per form, counted in the table; over the limit gets 429. */
  rateLimit: z._default(
    z.strictObject({ perIp: z.optional(windowLimitSchema), perForm: z.optional(windowLimitSchema) }),
    {},
  ),
  content: z._default(
    z.strictObject({
      /** Most links (http://, https://, www.) a submission may contain; more gets 422. */
      maxLinks: z.optional(z.number().check(z.int(), z.gte(0), z.lte(1_000))),
      /** Words that mark a submission as spam (case-insensitive, whole words); it is dropped as a success. */
      blockedWords: z._default(
        z.array(z.string().check(z.minLength(1), z.maxLength(100))).check(z.maxLength(500)),
        [],
      ),
      /** The same content from the same address within this window is accepted once. */
      duplicateWindowSeconds: z.optional(z.number().check(z.int(), z.gte(1), z.lte(604_800))),
    }),
    { blockedWords: [] },
  ),
  /**
   * File fields of a multipart post, attached to the mail. No allowed types (the default) means no
   * files: a file part gets 422. api.maxBodyBytes still bounds the whole request: raise it with these.
   */
  files: z._default(
    z.strictObject({
      /** MIME types accepted, such as application/pdf, image/png, image/jpeg; checked against the bytes. */
      allowedTypes: z._default(
        z
          .array(
            z
              .string()
              .check(
                z.regex(
                  /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/,
                  'must be a lowercase MIME type such as application/pdf',
                ),
              ),
          )
          .check(z.maxLength(50)),
        [],
      ),
      // API Gateway REST takes at most 10 MB per request, so no file or set of files can be larger.
      maxFileBytes: z._default(z.number().check(z.int(), z.gte(1), z.lte(10_485_760)), 5_242_880),
      maxTotalBytes: z._default(z.number().check(z.int(), z.gte(1), z.lte(10_485_760)), 10_485_760),
      maxFiles: z._default(z.number().check(z.int(), z.gte(1), z.lte(10)), 3),
    }),
    { allowedTypes: [], maxFileBytes: 5_242_880, maxTotalBytes: 10_485_760, maxFiles: 3 },
  ),
});

const domainSchema = z
  .string()
  .check(
    z.maxLength(253),
    z.regex(
      /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
      'must be a lowercase domain name such as example.com',
    ),
  );

const sesTransportSchema = z.strictObject({
  kind: z.literal('ses'),
  /**
   * An existing SES configuration set to send with. When absent, the stack creates one (reputation
   * metrics, and the home of delivery events).
   */
  configurationSet: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')),
  ),
  /** A domain for the stack to create as an SES identity with Easy DKIM; its DNS records become stack outputs. */
  domainIdentity: z.optional(domainSchema),
});

const smtpTransportSchema = z.strictObject({
  kind: z.literal('smtp'),
  host: z.string().check(z.minLength(1)),
  port: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 587),
  /** true for implicit TLS (port 465); false upgrades with STARTTLS, which `requireTls` makes mandatory. */
  secure: z._default(z.boolean(), false),
  requireTls: z._default(z.boolean(), true),
  /** Verify the server's certificate. Turn off only for a local test server with a self-signed certificate. */
  tlsRejectUnauthorized: z._default(z.boolean(), true),
  /** SMTP AUTH user. The password is never in config: see passwordSecret. */
  user: z.optional(z.string().check(z.minLength(1))),
  /**
   * Name or ARN of the Secrets Manager secret (a plain string) holding the SMTP password, read by the
   * relay at cold start on AWS. Locally the password comes from POSTROOM_SMTP_PASSWORD.
   */
  passwordSecret: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  maxConnections: z._default(z.number().check(z.int(), z.gte(1), z.lte(50)), 5),
  timeoutSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(120)), 20),
  /**
   * The name Postroom greets the relay with (EHLO), a fully qualified domain name as RFC 5321 4.1.1.1 asks.
   * Defaults to the sender's domain; a relay may refuse or score down a bare IP literal or a non-FQDN.
   */
  ehloName: z.optional(domainSchema),
});

export const configSchema = z
  .strictObject({
    region: z._default(
      z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
      'us-east-1',
    ),
    /** The From of every mail. Must be an identity verified in SES (or accepted by the SMTP relay). */
    sender: mailboxSchema,
    transport: z._default(z.discriminatedUnion('kind', [sesTransportSchema, smtpTransportSchema]), {
      kind: 'ses',
    }),
    api: z._default(
      z.strictObject({
        /** Largest request body accepted, in bytes; larger bodies get 413. */
        maxBodyBytes: z._default(z.number().check(z.int(), z.gte(1_024), z.lte(6_000_000)), 65_536),
        /** API Gateway stage throttling: steady requests per second, and the burst above it. */
        throttleRatePerSecond: z._default(z.number().check(z.int(), z.gte(1), z.lte(10_000)), 50),
        throttleBurst: z._default(z.number().check(z.int(), z.gte(1), z.lte(5_000)), 100),
        /**
         * An AWS WAF web ACL with a rate-based rule per client IP. Off by default: a web ACL costs about
         * USD 5 a month plus USD 1 per rule and USD 0.60 per million requests.
         */
        waf: z._default(
          z.strictObject({
            enabled: z._default(z.boolean(), false),
            /** Requests one IP may make in any 5 minutes before WAF blocks it (WAF's minimum is 10). */
            requestsPerFiveMinutes: z._default(
              z.number().check(z.int(), z.gte(10), z.lte(2_000_000_000)),
              300,
            ),
          }),
          { enabled: false, requestsPerFiveMinutes: 300 },
        ),
      }),
      {
        maxBodyBytes: 65_536,
        throttleRatePerSecond: 50,
        throttleBurst: 100,
        waf: { enabled: false, requestsPerFiveMinutes: 300 },
      },
    ),
    queue: z._default(
      z.strictObject({
        /** Receives before SQS moves a message to the dead-letter queue. */
        maxReceiveCount: z._default(z.number().check(z.int(), z.gte(5), z.lte(1_000)), 5),
        batchSize: z._default(z.number().check(z.int(), z.gte(1), z.lte(10)), 10),
        /** Concurrent relay invocations; keeps the relay within the provider's send rate. */
        maxConcurrency: z._default(z.number().check(z.int(), z.gte(2), z.lte(1_000)), 2),
        /** How long the event source gathers a batch before invoking the relay (0 sends at once). */
        batchingWindowSeconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(300)), 0),
      }),
      { maxReceiveCount: 5, batchSize: 10, maxConcurrency: 2, batchingWindowSeconds: 0 },
    ),
    relay: z._default(
      z.strictObject({
        /** Relay function timeout. The queue's visibility timeout is at least six times this. */
        timeoutSeconds: z._default(z.number().check(z.int(), z.gte(5), z.lte(900)), 30),
        /** How long a claim protects a job being sent; a crashed attempt's claim expires after this. */
        claimLeaseSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(43_200)), 60),
        /** Backoff for transient failures: base * 2^(attempt-1), capped, with jitter. */
        retryBaseSeconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(900)), 10),
        retryMaxSeconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(43_200)), 900),
        /** How long idempotency records are kept. Longer than the DLQ's retention, so a redrive cannot resend. */
        recordTtlDays: z._default(z.number().check(z.int(), z.gte(1), z.lte(365)), 30),
        /**
         * The provider's maximum send rate, in messages per second, for the whole stack. The relay paces its
         * sends to stay within it. On AWS each concurrent relay invocation gets maxSendRate /
         * queue.maxConcurrency (Lambda never runs more than maxConcurrency at once for the queue); locally one
         * relay paces at the full rate. Absent: no pacing, and throttling is only retried.
         */
        maxSendRate: z.optional(z.number().check(z.positive(), z.lte(100_000))),
      }),
      {
        timeoutSeconds: 30,
        claimLeaseSeconds: 60,
        retryBaseSeconds: 10,
        retryMaxSeconds: 900,
        recordTtlDays: 30,
      },
    ),
    monitoring: z._default(
      z.strictObject({
        /**
         * `essential` keeps the alarms that protect the mail and the SES account (dead letters, stuck mail,
         * relay errors, bounce and complaint rates) and emits only the custom metrics an alarm reads;
         * `full` adds the dashboard, the API 5xx alarm and every count and breakdown (docs/cost.md).
         */
        level: z._default(z.enum(MONITORING_LEVELS), 'essential'),
        /**
         * Encrypt the alarm and SES delivery-event topics with a customer-managed KMS key each (USD 1 a month
         * per key): for accounts whose policy requires SNS server-side encryption. Off, both topics still
         * refuse anything but TLS.
         */
        encryptTopics: z._default(z.boolean(), false),
        /**
         * Share of API requests X-Ray traces, in percent (an X-Ray sampling rule on the stage, no reservoir);
         * the send function follows the API's decision. 0 turns tracing off. At `full` the relay and events
         * functions also trace, at Lambda's own fixed rate (1 a second, then 5 %).
         */
        traceSamplePercent: z._default(z.number().check(z.gte(0), z.lte(100)), 5),
        /** Where alarm notifications are mailed (an SNS e-mail subscription, confirmed by a link). */
        alarmEmail: z.optional(addressSchema),
        /** Alarm when the oldest queued mail is older than this. */
        oldestMessageAgeSeconds: z._default(z.number().check(z.int(), z.gte(60), z.lte(1_209_600)), 900),
        /** Alarm when more than this share of relay invocations fail, in percent. */
        relayErrorRatePercent: z._default(z.number().check(z.gte(0.1), z.lte(100)), 5),
        /** Alarm when the API answers more than this many 5xx in five minutes. */
        apiServerErrors: z._default(z.number().check(z.int(), z.gte(1)), 5),
        /** Alarm on the account's SES bounce and complaint rates; SES reviews accounts from 5% and 0.1%. */
        bounceRatePercent: z._default(z.number().check(z.gte(0.1), z.lte(100)), 5),
        complaintRatePercent: z._default(z.number().check(z.gte(0.01), z.lte(100)), 0.1),
        /** Retention of the functions' and API access logs. */
        logRetentionDays: z._default(
          z.union(
            [
              1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
              3288, 3653,
            ].map((d) => z.literal(d)),
          ),
          30,
        ),
      }),
      {
        level: 'essential',
        encryptTopics: false,
        traceSamplePercent: 5,
        oldestMessageAgeSeconds: 900,
        relayErrorRatePercent: 5,
        apiServerErrors: 5,
        bounceRatePercent: 5,
        complaintRatePercent: 0.1,
        logRetentionDays: 30,
      },
    ),
    attachments: z._default(
      z.strictObject({
        /**
         * Files up to this total size travel inside the MailJob (base64, 4/3 larger); larger ones go to the
         * attachments bucket and the job carries their keys (claim check). The cap keeps a job within SQS's
         * 1 MiB message limit with room for the rendered mail.
         */
        inlineMaxBytes: z._default(z.number().check(z.int(), z.gte(0), z.lte(524_288)), 153_600),
      }),
      { inlineMaxBytes: 153_600 },
    ),
    schedule: z._default(
      z.strictObject({
        /** How far ahead `scheduledAt` may be (docs/scheduling.md). EventBridge Scheduler has no limit of its own. */
        maxDays: z._default(z.number().check(z.int(), z.gte(1), z.lte(365)), 30),
      }),
      { maxDays: 30 },
    ),
    forms: z.array(formSchema).check(z.minLength(1)),
    /** Endpoints that receive signed events (docs/webhooks.md). */
    webhooks: z._default(z.array(webhookSchema).check(z.maxLength(20)), []),
  })
  .check(
    // `when` runs these rules even when other fields failed, so one run reports every bad field. The
    // value may then be partly invalid, hence the defensive reads.
    z.superRefine(crossFieldRules, { when: () => true }),
  );

function crossFieldRules(value: unknown, ctx: z.core.$RefinementCtx): void {
  const config = (typeof value === 'object' && value !== null ? value : {}) as {
    forms?: unknown;
    sender?: unknown;
    transport?: unknown;
    relay?: {
      claimLeaseSeconds?: unknown;
      timeoutSeconds?: unknown;
      retryBaseSeconds?: unknown;
      retryMaxSeconds?: unknown;
      maxSendRate?: unknown;
    };
    queue?: { batchSize?: unknown; maxConcurrency?: unknown };
  };
  const seen = new Set<unknown>();
  if (Array.isArray(config.forms)) {
    config.forms.forEach((form: unknown, index) => {
      const { subject, maxExtraFields } = (form ?? {}) as { subject?: unknown; maxExtraFields?: unknown };
      if (typeof subject === 'string') {
        const extras = isNumber(maxExtraFields) ? maxExtraFields : 10;
        for (const message of subjectPlaceholderProblems(subject, extras)) {
          ctx.addIssue({ code: 'custom', path: ['forms', index, 'subject'], message });
        }
      }
      const id = typeof form === 'object' && form !== null ? (form as { id?: unknown }).id : undefined;
      if (typeof id !== 'string') return;
      if (seen.has(id))
        ctx.addIssue({ code: 'custom', path: ['forms', index, 'id'], message: `duplicate form id "${id}"` });
      seen.add(id);
    });
  }
  webhookRules(value, seen, ctx);
  const transport = config.transport as { domainIdentity?: unknown } | undefined;
  const sender =
    typeof config.sender === 'object' && config.sender !== null
      ? (config.sender as { address?: unknown }).address
      : undefined;
  if (typeof transport?.domainIdentity === 'string' && typeof sender === 'string') {
    const domain = sender.slice(sender.lastIndexOf('@') + 1);
    if (domain !== transport.domainIdentity && !domain.endsWith(`.${transport.domainIdentity}`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['transport', 'domainIdentity'],
        message: `must be the sender's domain (${domain}) or a parent of it, or SES will not send as the sender`,
      });
    }
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
  if (isNumber(relay.maxSendRate) && relay.maxSendRate > 0) {
    // A paced invocation must get through a whole batch before its timeout, or the batch comes back and
    // the mail waits a visibility timeout for nothing.
    const queue = config.queue ?? {};
    const batchSize = isNumber(queue.batchSize) ? queue.batchSize : 10;
    const concurrency = isNumber(queue.maxConcurrency) ? queue.maxConcurrency : 2;
    const timeout = isNumber(relay.timeoutSeconds) ? relay.timeoutSeconds : 30;
    const secondsPerBatch = batchSize / (relay.maxSendRate / concurrency);
    if (secondsPerBatch > timeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['relay', 'maxSendRate'],
        message: `each of the queue.maxConcurrency (${concurrency}) relay invocations would need ${Math.ceil(secondsPerBatch)} s for a batch of ${batchSize}, more than relay.timeoutSeconds (${timeout}): raise the rate or lower queue.maxConcurrency or queue.batchSize`,
      });
    }
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
export type CaptchaConfig = z.output<typeof captchaSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;

/** An SMTP transport without an ehloName greets with the sender's domain. */
function withEhloName(config: PostroomConfig): PostroomConfig {
  const transport = config.transport;
  if (transport.kind !== 'smtp' || transport.ehloName !== undefined) return config;
  const domain = config.sender.address.slice(config.sender.address.lastIndexOf('@') + 1);
  return { ...config, transport: { ...transport, ehloName: domain } };
}

/**
 * Validates raw configuration (the `postroom` context of cdk.json, after overrides).
 * Throws a ConfigError whose message names every bad field.
 */
export function parseConfig(raw: unknown): PostroomConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return withEhloName(result.data);
  const problems = result.error.issues.map((issue) => ({
    field: fieldPath(issue.path, raw),
    message: describeIssue(issue, raw),
  }));
  throw new ConfigError(problems);
}
