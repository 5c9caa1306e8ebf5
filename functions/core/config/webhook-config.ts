import * as z from 'zod/mini';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/event-types';

/**
 * Loopback hosts a webhook may use over plain http, for the local stack and tests. A deployed stack refuses
 * them at synth (infra/constructs/webhooks.ts) and again at send time (the dispatcher's SSRF guard).
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const webhookUrlSchema = z.string().check(
  z.maxLength(2048),
  z.superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an https URL' });
      return;
    }
    if (url.username !== '' || url.password !== '') {
      // Credentials in a URL end up in logs; the signature is what authenticates Postroom.
      ctx.addIssue({ code: 'custom', message: 'must not carry a user name or password' });
      return;
    }
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
    ctx.addIssue({
      code: 'custom',
      message: 'must be an https URL (plain http only to 127.0.0.1 or localhost, for the local stack)',
    });
  }),
);

export const webhookSchema = z.strictObject({
  /** The endpoint's id: names its secret variable locally, its state and its metrics. */
  id: z
    .string()
    .check(z.regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1-32 lowercase letters, digits or dashes')),
  url: webhookUrlSchema,
  /** The events it receives. */
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).check(z.minLength(1)),
  /** Only events of these forms (submission.received, and email events of form mail). @default every form */
  forms: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.minLength(1))),
  /** Also send submission.received for submissions a spam guard dropped, marked `spam: true`. */
  includeSpam: z._default(z.boolean(), false),
  /**
   * Secrets Manager name or ARN of the signing secret (`whsec_<base64>`; two separated by a space while
   * rotating), read at cold start on AWS. Locally it comes from POSTROOM_WEBHOOK_SECRET_<ID> (the id
   * upper-cased, dashes as _), never from this file.
   */
  secret: z.string().check(z.minLength(1), z.maxLength(2048)),
});

/** Unique webhook ids; `forms` names configured forms. `formIds` are the forms' ids seen by the caller. */
export function webhookRules(
  value: unknown,
  formIds: ReadonlySet<unknown>,
  ctx: z.core.$RefinementCtx,
): void {
  const webhooks = (value as { webhooks?: unknown } | null)?.webhooks;
  if (!Array.isArray(webhooks)) return;
  const seen = new Set<unknown>();
  webhooks.forEach((webhook: unknown, index) => {
    const { id, forms } = (webhook ?? {}) as { id?: unknown; forms?: unknown };
    if (typeof id === 'string') {
      if (seen.has(id))
        ctx.addIssue({
          code: 'custom',
          path: ['webhooks', index, 'id'],
          message: `duplicate webhook id "${id}"`,
        });
      seen.add(id);
    }
    if (!Array.isArray(forms)) return;
    forms.forEach((form: unknown, formIndex) => {
      if (typeof form === 'string' && !formIds.has(form))
        ctx.addIssue({
          code: 'custom',
          path: ['webhooks', index, 'forms', formIndex],
          message: `names no configured form ("${form}")`,
        });
    });
  });
}

/** The local variable that holds an endpoint's signing secret: POSTROOM_WEBHOOK_SECRET_<ID>. */
export function webhookSecretVariable(id: string): string {
  return `POSTROOM_WEBHOOK_SECRET_${id.toUpperCase().replaceAll('-', '_')}`;
}
