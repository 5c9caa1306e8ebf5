import { hash } from 'node:crypto';
import type { FormConfig } from '../config/config';
import { HttpError, ValidationError } from '../errors';
import type { GuardStore } from '../ports';
import { fixedWindowState, type QuotaState } from '../rate-limit-headers';
import type { FormSubmission } from './form-submission';

/**
 * The guards a public form runs besides validation: per-IP and per-form rate limits, content rules and
 * duplicate suppression. Their state (counters, fingerprints) lives in the table, behind GuardStore (ports.ts).
 */

export class TooManyRequestsError extends HttpError {
  constructor(retryAfterSeconds: number) {
    super(429, 'Too Many Requests', 'Too many submissions; try again later.', {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
    this.name = 'TooManyRequestsError';
  }
}

/** A counter a submission was counted in, so the count can be taken back. */
export interface CountedLimit {
  readonly key: string;
  readonly expiresAtSeconds: number;
}

/**
 * Fixed-window counters: one item per key and window, so a limit costs one conditional-free UpdateItem.
 * The IP is hashed: the table never holds a visitor's address. Each counter counted is added to `counted`
 * (when a later one fails too), for refundRateLimits, and its state to `quotas`, for the RateLimit header
 * fields (core/rate-limit-headers.ts) of the answer, a 429 included.
 */
export async function enforceRateLimits(
  form: FormConfig,
  clientIp: string,
  nowMs: number,
  store: GuardStore,
  counted: CountedLimit[] = [],
  quotas: QuotaState[] = [],
): Promise<void> {
  const { perIp, perForm } = form.rateLimit;
  const limits = [
    ...(perIp ? [{ policy: 'per-ip', limit: perIp, key: `rate#ip#${form.id}#${digest(clientIp)}` }] : []),
    ...(perForm ? [{ policy: 'per-form', limit: perForm, key: `rate#form#${form.id}` }] : []),
  ];
  for (const { policy, limit, key } of limits) {
    const nowSeconds = Math.floor(nowMs / 1000);
    const windowStart = nowSeconds - (nowSeconds % limit.windowSeconds);
    const windowEnd = windowStart + limit.windowSeconds;
    const count = await store.increment(`${key}#${windowStart}`, windowEnd);
    counted.push({ key: `${key}#${windowStart}`, expiresAtSeconds: windowEnd });
    quotas.push(fixedWindowState(policy, limit, count, nowSeconds, windowEnd));
    if (count > limit.max) throw new TooManyRequestsError(Math.max(1, windowEnd - nowSeconds));
  }
}

/**
 * Takes back the counts of a submission the service failed (a 5xx): the visitor did nothing wrong, and
 * their retry, which the 503's Retry-After asks for, must not be refused for it. Counting first and
 * refunding on failure keeps a flood's cost at one write per request. Best effort: a refund that fails
 * leaves the count, as it was before refunds existed.
 */
export async function refundRateLimits(
  counted: ReadonlyArray<CountedLimit>,
  store: GuardStore,
): Promise<void> {
  await Promise.allSettled(
    counted.map(({ key, expiresAtSeconds }) => store.increment(key, expiresAtSeconds, -1)),
  );
}

/**
 * Whether this address may get another autoresponse from the form now: a counter per address and
 * window, so the form cannot be turned into a mail cannon aimed at one inbox.
 */
export async function autoresponseAllowed(
  form: FormConfig,
  address: string,
  nowMs: number,
  store: GuardStore,
): Promise<boolean> {
  const limit = form.autoresponse?.perRecipient;
  if (!limit) return false;
  const nowSeconds = Math.floor(nowMs / 1000);
  const windowStart = nowSeconds - (nowSeconds % limit.windowSeconds);
  const count = await store.increment(
    `auto#${form.id}#${digest(address.toLowerCase())}#${windowStart}`,
    windowStart + limit.windowSeconds,
  );
  return count <= limit.max;
}

// http://, https:// or a bare www. host: what spam links look like in a message.
const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;

/** Content rules that a person should hear about (422), checked on every visitor field. */
export function checkLinks(form: FormConfig, submission: FormSubmission): void {
  const max = form.content.maxLinks;
  if (max === undefined) return;
  for (const [field, value] of visitorText(submission)) {
    const links = value.match(LINK)?.length ?? 0;
    if (links > max) {
      throw new ValidationError([
        { field, detail: `must contain at most ${max} link${max === 1 ? '' : 's'}` },
      ]);
    }
  }
}

/**
 * The first blocked word or phrase found in any field, or undefined. Matching is on whole words,
 * case-insensitive, with punctuation and spacing ignored ("c.a.s.i.n.o" is not caught; "Casino!" is).
 */
export function findBlockedWord(form: FormConfig, submission: FormSubmission): string | undefined {
  if (form.content.blockedWords.length === 0) return undefined;
  const text = ` ${visitorText(submission)
    .map(([, value]) => words(value))
    .join(' ')} `;
  return form.content.blockedWords.find((blocked) => {
    const phrase = words(blocked);
    return phrase !== '' && text.includes(` ${phrase} `);
  });
}

function words(value: string): string {
  return value
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '')
    .join(' ');
}

/**
 * Duplicate suppression: the same content from the same address within the window is accepted once.
 * The key of a submission's fingerprint, or undefined when the form does not suppress duplicates.
 */
export function duplicateKey(form: FormConfig, submission: FormSubmission): string | undefined {
  if (form.content.duplicateWindowSeconds === undefined) return undefined;
  const content = [submission.email.address, submission.name ?? '', submission.message, submission.extra];
  return `dup#${form.id}#${digest(JSON.stringify(content))}`;
}

/** `_next`: a thank-you URL the form may choose, only from its allow-list. */
export function chooseRedirect(form: FormConfig, next: string | undefined): string | undefined {
  if (next === undefined || next === '') return form.redirectUrl;
  if (!form.allowedRedirects.includes(next)) {
    throw new ValidationError([{ field: '_next', detail: "is not one of the form's allowed redirect URLs" }]);
  }
  return next;
}

function visitorText(submission: FormSubmission): Array<readonly [string, string]> {
  return [['name', submission.name ?? ''], ['message', submission.message], ...submission.extra];
}

// One-shot hashing (Node 20.12+), without a Hash object per key: the same SHA-256, so stored keys still match.
function digest(value: string): string {
  return hash('sha256', value, 'base64url').slice(0, 32);
}
