import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../errors';
import type { HttpRequest } from '../http';
import type { GuardStore } from '../ports';
import { fixedWindowState, type QuotaState, rateLimitHeaders } from '../rate-limit-headers';
import { KEY_PREFIX } from '../table-keys';

/**
 * API keys for the transactional routes. A key is `pr_` + 32 random bytes (base64url), shown once when it is
 * created; the table keeps only its SHA-256 (`apikey#<hash>`), so a leaked table dump holds no usable key.
 * A fast hash is enough: the key has 256 bits of entropy, so there is nothing to brute-force.
 *
 * On AWS the issue suggested Secrets Manager or SSM for the hashes; they live in the record table instead,
 * deliberately: one table and one IAM scope (LeadingKeys `apikey#`, read-only for the send function), a
 * revocation is visible to the very next request (no cached secret), a lookup is one GetItem instead of
 * listing parameters, and the whole path runs against dynalite locally and in tests.
 */
export interface ApiKeyRecord {
  readonly keyId: string;
  readonly name?: string | undefined;
  /** SHA-256 of the key, base64url. */
  readonly hash: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly revoked: boolean;
  /**
   * What the key may do (KEY_SCOPES): `send`, `submissions:read` (every form's archive) or
   * `submissions:read:<formId>` (one form's). Absent on keys made before scopes existed: they keep `send`.
   */
  readonly scopes?: ReadonlyArray<string> | undefined;
}

/** Scopes a key may carry; a `submissions:read:<formId>` scope is per form. */
export const KEY_SCOPES = ['send', 'submissions:read'] as const;
const SCOPE = /^(send|submissions:read(:[a-z0-9][a-z0-9-]{0,63})?)$/;

/** Whether each of these is a scope a key can have; an unknown one is named. */
export function unknownScope(scopes: ReadonlyArray<string>): string | undefined {
  return scopes.find((scope) => !SCOPE.test(scope));
}

/** The scopes of a record: `send` for a key made before scopes existed. */
export function scopesOf(record: Pick<ApiKeyRecord, 'scopes'>): ReadonlyArray<string> {
  return record.scopes ?? ['send'];
}

/** Whether a key with these scopes may read this form's archived submissions. */
export function mayReadSubmissions(scopes: ReadonlyArray<string>, formId: string): boolean {
  return scopes.includes('submissions:read') || scopes.includes(`submissions:read:${formId}`);
}

export class ForbiddenScopeError extends HttpError {
  constructor(scope: string) {
    super(403, 'Forbidden', `This API key does not have the ${scope} scope.`);
    this.name = 'ForbiddenScopeError';
  }
}

export interface ApiKeyStore {
  /** The key whose hash this is, or undefined. */
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
}

/** What the CLI needs beyond the send function's read-only view. */
export interface ApiKeyAdmin extends ApiKeyStore {
  /** Stores a new key; fails if the hash is already there. */
  create(record: ApiKeyRecord): Promise<void>;
  list(): Promise<ApiKeyRecord[]>;
  /** Returns false when there is no such key id. */
  revoke(keyId: string, nowIso: string): Promise<boolean>;
}

export const API_KEY_PREFIX = 'pr_';

/** A new key and the record to store for it. The key itself is returned once and never stored. */
export function generateApiKey(
  now: Date,
  name?: string,
  random: (bytes: number) => Buffer = randomBytes,
  scopes: ReadonlyArray<string> = ['send'],
): { key: string; record: ApiKeyRecord } {
  const key = `${API_KEY_PREFIX}${random(32).toString('base64url')}`;
  const keyId = `key_${random(9).toString('base64url')}`;
  return {
    key,
    record: { keyId, name, hash: hashApiKey(key), createdAt: now.toISOString(), revoked: false, scopes },
  };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url');
}

/** The table key of an API key's item. */
export function apiKeyItemKey(hash: string): string {
  return `${KEY_PREFIX.apikey}${hash}`;
}

export class UnauthorizedError extends HttpError {
  constructor(detail: string, headers: Record<string, string> = {}) {
    // RFC 6750 section 3: a 401 for a bearer-token resource names the scheme.
    super(401, 'Unauthorized', detail, {
      headers: { ...headers, 'www-authenticate': 'Bearer realm="postroom"' },
    });
    this.name = 'UnauthorizedError';
  }
}

export class TooManyFailedAuthenticationsError extends HttpError {
  constructor(retryAfterSeconds: number, headers: Record<string, string> = {}) {
    super(429, 'Too Many Requests', 'Too many requests with a missing or wrong API key; try again later.', {
      headers: { ...headers, 'retry-after': String(retryAfterSeconds) },
    });
    this.name = 'TooManyFailedAuthenticationsError';
  }
}

/** Failed authentications one client IP may make per window before it gets 429. */
export const AUTH_FAILURE_LIMIT = { max: 10, windowSeconds: 60 } as const;

// RFC 6750 section 2.1: b64token. Bounded, so a huge header costs nothing to reject.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*)$/i;

export interface AuthDeps {
  readonly apiKeys: ApiKeyStore;
  readonly guards: GuardStore;
  readonly nowMs: number;
}

/**
 * The API key's id for a request, or an error to answer: 401 for a missing, unknown or revoked key, 429 once
 * the client's IP has failed too often in the window (counted in the table, like the form rate limits).
 */
export async function authenticate(
  request: HttpRequest,
  deps: AuthDeps,
): Promise<{ keyId: string; scopes: ReadonlyArray<string> }> {
  const match = BEARER.exec(request.headers.authorization?.trim() ?? '');
  const presented = match?.[1];
  let failure = 'An API key is required: send Authorization: Bearer <key>.';
  if (presented !== undefined) {
    const hash = hashApiKey(presented);
    const record = await deps.apiKeys.findByHash(hash);
    // The lookup is by hash; comparing the stored hash again in constant time guards against a store that
    // matched loosely (a prefix, a case fold) and leaks nothing about how much of it matched.
    const matches = record !== undefined && sameHash(record.hash, hash);
    if (matches && !record.revoked) return { keyId: record.keyId, scopes: scopesOf(record) };
    // Telling "revoked" from "unknown" reveals nothing to a guesser: only the holder of the key learns
    // it was revoked. An unknown key is most often one made for another stack (local or deployed).
    failure = matches
      ? 'The API key was revoked.'
      : 'The API key is not known to this stack: check that it was created for this stack.';
  }
  const quota = await countFailure(request.sourceIp ?? 'unknown', deps);
  throw new UnauthorizedError(failure, rateLimitHeaders([quota]));
}

/**
 * Counts a failed authentication of this IP; 429 past the limit. The quota it was counted in is announced
 * on the 401 and the 429 (core/rate-limit-headers.ts): requests with a valid key are not counted.
 */
async function countFailure(clientIp: string, deps: AuthDeps): Promise<QuotaState> {
  const nowSeconds = Math.floor(deps.nowMs / 1000);
  const { max, windowSeconds } = AUTH_FAILURE_LIMIT;
  const windowStart = nowSeconds - (nowSeconds % windowSeconds);
  const ipHash = createHash('sha256').update(clientIp).digest('base64url').slice(0, 32);
  const count = await deps.guards.increment(
    `${KEY_PREFIX.rate}auth#${ipHash}#${windowStart}`,
    windowStart + windowSeconds,
  );
  const quota = fixedWindowState(
    'failed-auth',
    AUTH_FAILURE_LIMIT,
    count,
    nowSeconds,
    windowStart + windowSeconds,
  );
  if (count > max)
    throw new TooManyFailedAuthenticationsError(
      Math.max(1, windowStart + windowSeconds - nowSeconds),
      rateLimitHeaders([quota]),
    );
  return quota;
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
