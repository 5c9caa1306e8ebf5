import * as z from 'zod/mini';
import { ConfigError } from '../errors';
import { parseAddress, parseMailbox } from '../mail/address';
import { uncarriableText } from '../mail/text';
import { MONITORING_LEVELS } from '../monitoring';
import { TEMPLATE_ID } from '../templates/declaration-schema';
import { addIssue } from '../zod';
import { akismetStackSchema, archiveSchema, archiveStackSchema, formAkismetSchema } from './archive-config';
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

/**
 * The relay starts no provider attempt in the last seconds of its invocation: a send takes well under a
 * second (docs/performance.md), and one Lambda's timeout cut mid-send is in the crash window (a retry may
 * send it again). A paced batch must therefore fit in relay.timeoutSeconds less this.
 */
export const SEND_START_MARGIN_SECONDS = 2;

/** A folder of templates/ (functions/core/templates/declaration-schema.ts TEMPLATE_ID). */
const templateIdSchema = z
  .string()
  .check(z.regex(TEMPLATE_ID, 'must be a template id: 1-63 lowercase letters, digits or dashes'));

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
  /** Keeps submissions (inbox and spam folder) for export and review (docs/privacy.md); off when absent. */
  archive: z.optional(archiveSchema),
  /** Asks Akismet whether a submission is spam (docs/privacy.md); needs the top-level `akismet.secret`. */
  akismet: z.optional(formAkismetSchema),
  /**
   * A template of templates/ to render the notification with instead of the shipped `form-notification`
   * (checked at synth against what the form path provides: docs/templates.md).
   */
  template: z.optional(templateIdSchema),
  /**
   * A fixed confirmation mailed to the visitor once every guard has passed. It holds only the text
   * configured here, never anything the visitor wrote, so the form cannot be used to mail strangers
   * a spammer's message (backscatter).
   */
  autoresponse: z.optional(
    z.strictObject({
      subject: z.string().check(z.minLength(1), z.maxLength(200), carriable),
      /** The confirmation's text: the `text` variable of its template. Required unless `template` is set. */
      text: z.optional(z.string().check(z.minLength(1), z.maxLength(20_000), carriable)),
      /**
       * A template of templates/ to render the confirmation with instead of the shipped
       * `form-autoresponse` (checked at synth against what the form path provides: docs/templates.md).
       */
      template: z.optional(templateIdSchema),
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

/**
 * A transport's name in the failover list: the `provider` of each attempt in a message's history, the metrics'
 * dimension and the breaker's key. Defaults to its kind (`ses`, `smtp`; `smtp-2` for a second SMTP relay).
 */
const transportIdSchema = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1-32 lowercase letters, digits or dashes'));

const sesTransportSchema = z.strictObject({
  kind: z.literal('ses'),
  id: z.optional(transportIdSchema),
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
  id: z.optional(transportIdSchema),
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
   * relay at cold start on AWS. Locally the password comes from POSTROOM_SMTP_PASSWORD (for a relay whose id
   * is not `smtp`: POSTROOM_SMTP_PASSWORD_<ID>, the id upper-cased with dashes as _).
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

const transportSchema = z.discriminatedUnion('kind', [sesTransportSchema, smtpTransportSchema]);

export const configSchema = z
  .strictObject({
    region: z._default(
      z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
      'us-east-1',
    ),
    /** The From of every mail. Must be an identity verified in SES (or accepted by the SMTP relay). */
    sender: mailboxSchema,
    transport: z._default(transportSchema, { kind: 'ses' }),
    /**
     * Providers in the order they are tried (docs/failover.md): a job goes to the next one only when the one
     * before certainly did not take it. Give either this or `transport` (a list of one).
     */
    transports: z.optional(z.array(transportSchema).check(z.minLength(1), z.maxLength(5))),
    /** The circuit breaker each provider of `transports` has, its state shared by every relay (docs/failover.md). */
    breaker: z._default(
      z.strictObject({
        /** Attempts a window must hold before its failure rate can open the breaker. */
        minRequests: z._default(z.number().check(z.int(), z.gte(1), z.lte(10_000)), 10),
        /** Share of failed attempts in a window (0 to 1) that opens the breaker. */
        failureRate: z._default(z.number().check(z.gt(0), z.lte(1)), 0.5),
        /** The counting window: fixed windows of this many seconds. */
        windowSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(3_600)), 60),
        /** How long an open breaker skips its provider before one probe may try it again. */
        openSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(86_400)), 60),
      }),
      { minRequests: 10, failureRate: 0.5, windowSeconds: 60, openSeconds: 60 },
    ),
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
    /** The submission archive's encryption (docs/privacy.md). */
    archive: z.optional(archiveStackSchema),
    /** The Akismet key, for forms with `akismet`. */
    akismet: z.optional(akismetStackSchema),
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
    transports?: unknown;
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
      autoresponseRules(form, index, ctx);
      if (
        (form as { akismet?: unknown } | null)?.akismet !== undefined &&
        (value as { akismet?: unknown }).akismet === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['forms', index, 'akismet'],
          message:
            'needs the top-level akismet.secret naming the Secrets Manager secret with the Akismet key',
        });
      }
      const id = typeof form === 'object' && form !== null ? (form as { id?: unknown }).id : undefined;
      if (typeof id !== 'string') return;
      if (seen.has(id))
        ctx.addIssue({ code: 'custom', path: ['forms', index, 'id'], message: `duplicate form id "${id}"` });
      seen.add(id);
    });
  }
  webhookRules(value, seen, ctx);
  const sender =
    typeof config.sender === 'object' && config.sender !== null
      ? (config.sender as { address?: unknown }).address
      : undefined;
  const listed = Array.isArray(config.transports);
  const transports: ReadonlyArray<unknown> = listed ? (config.transports as unknown[]) : [config.transport];
  transports.forEach((entry, index) => {
    const transport = entry as { domainIdentity?: unknown } | undefined;
    const path = listed ? ['transports', index, 'domainIdentity'] : ['transport', 'domainIdentity'];
    if (typeof transport?.domainIdentity === 'string' && typeof sender === 'string') {
      const domain = sender.slice(sender.lastIndexOf('@') + 1);
      if (domain !== transport.domainIdentity && !domain.endsWith(`.${transport.domainIdentity}`)) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `must be the sender's domain (${domain}) or a parent of it, or SES will not send as the sender`,
        });
      }
    }
  });
  if (listed) transportListRules(transports, ctx);
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
    if (secondsPerBatch > timeout - SEND_START_MARGIN_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['relay', 'maxSendRate'],
        message: `each of the queue.maxConcurrency (${concurrency}) relay invocations would need ${Math.ceil(secondsPerBatch)} s for a batch of ${batchSize}, more than relay.timeoutSeconds (${timeout}) less the ${SEND_START_MARGIN_SECONDS} s in which no send starts: raise the rate or lower queue.maxConcurrency or queue.batchSize`,
      });
    }
  }
}

/** The autoresponse's text is its template's `text` variable: without a template of its own, a form needs it. */
function autoresponseRules(form: unknown, index: number, ctx: z.core.$RefinementCtx): void {
  const auto =
    typeof form === 'object' && form !== null ? (form as { autoresponse?: unknown }).autoresponse : undefined;
  if (typeof auto !== 'object' || auto === null) return;
  const { text, template } = auto as { text?: unknown; template?: unknown };
  if (text === undefined && template === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['forms', index, 'autoresponse', 'text'],
      message: 'is required unless autoresponse.template names a template of its own',
    });
  }
}

/**
 * One SES account is one provider (a second SES entry would share its quota and its reputation), and each
 * transport needs a name of its own: it keys the breaker, the metrics and the history.
 */
function transportListRules(transports: ReadonlyArray<unknown>, ctx: z.core.$RefinementCtx): void {
  const kinds = transports.map((t) => (t as { kind?: unknown } | undefined)?.kind);
  kinds.forEach((kind, index) => {
    if (kind === 'ses' && kinds.indexOf('ses') !== index)
      ctx.addIssue({
        code: 'custom',
        path: ['transports', index, 'kind'],
        message: 'only one SES transport is allowed: a second would use the same account and quota',
      });
  });
  const ids = transportIds(transports);
  ids.forEach((id, index) => {
    if (ids.indexOf(id) !== index)
      ctx.addIssue({
        code: 'custom',
        path: ['transports', index, 'id'],
        message: `duplicate transport id "${id}": give each transport its own id`,
      });
  });
}

/** Each transport's id: its own, or its kind, numbered from the second of a kind on (`smtp`, `smtp-2`). */
function transportIds(transports: ReadonlyArray<unknown>): string[] {
  const seen = new Map<string, number>();
  return transports.map((entry) => {
    const { id, kind } = (entry ?? {}) as { id?: unknown; kind?: unknown };
    const kindName = typeof kind === 'string' ? kind : 'transport';
    const count = (seen.get(kindName) ?? 0) + 1;
    seen.set(kindName, count);
    if (typeof id === 'string') return id;
    return count === 1 ? kindName : `${kindName}-${count}`;
  });
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export type PostroomConfigInput = z.input<typeof configSchema>;
type TransportOutput = z.output<typeof transportSchema>;
/** An SMTP relay's settings, as the transport adapter takes them. */
export type SmtpTransportConfig = Extract<TransportOutput, { kind: 'smtp' }>;
/** One provider of the failover list, its id filled in. */
export type TransportConfig = TransportOutput & { readonly id: string };
/**
 * Validated configuration: defaults filled in, addresses normalized. `transports` is always the list (the
 * single `transport` makes a list of one) and `transport` its first entry.
 */
export type PostroomConfig = Omit<z.output<typeof configSchema>, 'transport' | 'transports'> & {
  readonly transport: TransportConfig;
  readonly transports: ReadonlyArray<TransportConfig>;
};
export type BreakerConfig = PostroomConfig['breaker'];
export type FormConfig = z.output<typeof formSchema>;
export type CaptchaConfig = z.output<typeof captchaSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;

/**
 * The transports as a list with their ids (the single `transport` is a list of one), `transport` its first;
 * an SMTP transport without an ehloName greets with the sender's domain.
 */
function withTransports(config: z.output<typeof configSchema>): PostroomConfig {
  const domain = config.sender.address.slice(config.sender.address.lastIndexOf('@') + 1);
  const list: ReadonlyArray<TransportOutput> = config.transports ?? [config.transport];
  const ids = transportIds(list);
  const transports = list.map(
    (transport, index): TransportConfig => ({
      ...transport,
      id: ids[index] ?? transport.kind,
      ...(transport.kind === 'smtp' && transport.ehloName === undefined ? { ehloName: domain } : {}),
    }),
  );
  const { transports: _listed, ...rest } = config;
  return { ...rest, transport: transports[0] as TransportConfig, transports };
}

/**
 * The variable suffix of an SMTP transport's secret: none for the id `smtp` (POSTROOM_SMTP_PASSWORD,
 * SMTP_PASSWORD_SECRET_ARN, as with a single relay), `_<ID>` for the others, upper-cased, dashes as _.
 */
export function secretSuffix(transportId: string): string {
  return transportId === 'smtp' ? '' : `_${transportId.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Validates raw configuration (the `postroom` context of cdk.json, after overrides).
 * Throws a ConfigError whose message names every bad field.
 */
export function parseConfig(raw: unknown): PostroomConfig {
  const result = configSchema.safeParse(raw);
  const both =
    typeof raw === 'object' &&
    raw !== null &&
    (raw as { transport?: unknown }).transport !== undefined &&
    (raw as { transports?: unknown }).transports !== undefined;
  const exclusive = both
    ? [
        {
          field: 'postroom.transports',
          message: 'cannot be given with postroom.transport: list every provider in transports, in order',
        },
      ]
    : [];
  if (result.success && !both) return withTransports(result.data);
  const problems = (result.success ? [] : result.error.issues).map((issue) => ({
    field: fieldPath(issue.path, raw),
    message: describeIssue(issue, raw),
  }));
  throw new ConfigError([...exclusive, ...problems]);
}
