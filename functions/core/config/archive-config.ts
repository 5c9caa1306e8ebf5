import * as z from 'zod/mini';

/**
 * Per-form submission archive (docs/privacy.md): off unless the form has `archive`. Submissions are personal
 * data, so each kind has a retention after which DynamoDB TTL deletes it (reads filter what has expired but
 * is not yet deleted) and the bucket's lifecycle rule deletes its files.
 */
export const archiveSchema = z.strictObject({
  /** Days an accepted submission (the inbox) is kept. */
  retentionDays: z._default(z.number().check(z.int(), z.gte(1), z.lte(3_650)), 90),
  /** Days a submission caught as spam is kept, for review; usually shorter. */
  spamRetentionDays: z._default(z.number().check(z.int(), z.gte(1), z.lte(3_650)), 30),
  /** Whether uploaded files are kept with the submission (in the attachments bucket, under archive/). */
  storeFiles: z._default(z.boolean(), false),
});

/**
 * Akismet's comment-check for a form. The key is account-wide: `akismet.secret` at the top level names it.
 * The endpoint is fixed in code (core/archive/akismet.ts), never configured: no config can aim the send
 * function's requests at another host (SSRF).
 */
export const formAkismetSchema = z.strictObject({
  /** The site Akismet knows the key for (its `blog` parameter), such as https://www.example.com. */
  blog: z
    .string()
    .check(z.regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s) URL such as https://www.example.com')),
  /**
   * What a submission gets when Akismet cannot answer in time or answers an error: `open` accepts it as if
   * Akismet had called it good; `closed` refuses it with 503 and Retry-After, so the visitor sends again.
   */
  onError: z._default(z.enum(['open', 'closed']), 'open'),
  /** How long to wait for Akismet. */
  timeoutMs: z._default(z.number().check(z.int(), z.gte(100), z.lte(10_000)), 1_500),
});

/** Stack-wide archive and Akismet settings. */
export const archiveStackSchema = z.strictObject({
  /**
   * ARN of a customer-managed KMS key that encrypts the archive table and the archived files; absent, an
   * AWS-owned key (table) and SSE-S3 (files) do.
   */
  kmsKeyArn: z.optional(
    z
      .string()
      .check(z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'must be a KMS key ARN')),
  ),
});

export const akismetStackSchema = z.strictObject({
  /**
   * Secrets Manager name or ARN of the Akismet API key (a plain string), read by the send function on its
   * first check. Locally the key comes from POSTROOM_AKISMET_KEY.
   */
  secret: z.string().check(z.minLength(1), z.maxLength(2048)),
});

export type ArchiveConfig = z.output<typeof archiveSchema>;
export type FormAkismetConfig = z.output<typeof formAkismetSchema>;
