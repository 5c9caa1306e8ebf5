import { createHash } from 'node:crypto';
import { HttpError } from '../errors';
import { guarded } from '../forms/submit-form';
import type { HttpRequest } from '../http';
import type { Clock, GuardStore, Log } from '../ports';
import { KEY_PREFIX } from '../table-keys';

/**
 * The Idempotency-Key request header, per draft-ietf-httpapi-idempotency-key-header-07 (October 2025), its
 * "Error Scenarios" section:
 * - a key that is not 1 to 256 printable ASCII characters is refused with 400 (the draft leaves the key's
 *   form to the resource, which documents it: docs/api.md);
 * - the same key with another payload is 422 (until 0.1 it was 409: CHANGELOG.md);
 * - the same key while the first request is still being processed is 409, with Retry-After;
 * - the same key and payload after the first completed answers what the first did.
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 *
 * A key is remembered for 24 hours (the draft's example and Stripe's window), per API key: another API
 * key's requests never collide with it.
 */
export const IDEMPOTENCY_WINDOW_SECONDS = 86_400;
/** The longest key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

// Printable ASCII: what the key is stored and compared as. A quoted sf-string (RFC 8941 section 3.3.3), the
// draft's own syntax, is read for its content, so `"abc"` and `abc` are the same key.
const IDEMPOTENCY_KEY = new RegExp(`^[\\x20-\\x7e]{1,${MAX_IDEMPOTENCY_KEY_LENGTH}}$`);
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;

/** A problem with the Idempotency-Key header: the problem's `errors` name the header, as a field's are named. */
class IdempotencyKeyError extends HttpError {
  constructor(status: number, title: string, detail: string, headers: Record<string, string> = {}) {
    super(status, title, detail, { errors: [{ field: IDEMPOTENCY_HEADER, detail }], headers });
  }
}

/** 400: the key is empty, too long or not printable ASCII. */
export class InvalidIdempotencyKeyError extends IdempotencyKeyError {
  constructor() {
    super(
      400,
      'Bad Request',
      `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters.`,
    );
    this.name = 'InvalidIdempotencyKeyError';
  }
}

/** 422: the key was used with another payload in the window. */
export class IdempotencyKeyReusedError extends IdempotencyKeyError {
  constructor() {
    super(
      422,
      'Unprocessable Content',
      'This Idempotency-Key was used with a different payload in the last 24 hours.',
    );
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** 409: a request with this key and payload is still being processed. */
export class IdempotencyKeyInFlightError extends IdempotencyKeyError {
  constructor() {
    super(409, 'Conflict', 'A request with this Idempotency-Key is still being processed; retry shortly.', {
      'retry-after': '1',
    });
    this.name = 'IdempotencyKeyInFlightError';
  }
}

export interface IdempotencyDeps {
  readonly guards: GuardStore;
  readonly clock: Clock;
  readonly log: Log;
}

/** The request's key, undefined without the header; 400 for a malformed one. */
export function readIdempotencyKey(request: HttpRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const quoted = SF_STRING.exec(raw);
  const value = quoted?.[1] === undefined ? raw : quoted[1].replace(/\\(["\\])/g, '$1');
  if (!IDEMPOTENCY_KEY.test(value)) throw new InvalidIdempotencyKeyError();
  return value;
}

/** Where a key of this API key is remembered in the table (`idem#`, the send function's own items). */
export function rememberedKey(keyId: string, idempotencyKey: string): string {
  return `${KEY_PREFIX.idem}${keyId}#${digest(idempotencyKey)}`;
}

/**
 * How long a first request can still be in flight: API Gateway gives up on an integration after 29 s
 * (infra/constructs/api.ts), so past this a request without a completion mark has ended (its mark was lost,
 * or the function died; either way, what it did is answered, as before the mark existed).
 */
export const IN_FLIGHT_SECONDS = 30;

/** What a request answered, as its Idempotency-Key keeps it: the id, and for a scheduled message its time. */
export interface RememberedAnswer {
  readonly id: string;
  readonly status?: 'scheduled';
  readonly scheduledAt?: string;
}

/**
 * Binds the key to this payload and answer with a conditional write. Returns undefined when this request is
 * the first with the key (it must call `completed` once its work is done, or `forget` when nothing was done);
 * the answer of the first request when it completed with the same payload, so that a replay answers exactly
 * that (a scheduled send's status and time too), whatever became of the message since; throws 422 for
 * another payload and 409 while the first is in flight.
 */
export async function remember(
  key: string,
  hash: string,
  answer: RememberedAnswer,
  deps: IdempotencyDeps,
): Promise<RememberedAnswer | undefined> {
  const now = Math.floor(deps.clock.now() / 1000);
  const stored = await guarded(
    () =>
      deps.guards.remember(
        key,
        JSON.stringify({ payloadHash: hash, ...answer, at: now }),
        now,
        now + IDEMPOTENCY_WINDOW_SECONDS,
      ),
    deps.log,
  );
  if (stored === undefined) return undefined;
  const earlier = parseRemembered(stored);
  if (earlier?.payloadHash !== hash) throw new IdempotencyKeyReusedError();
  if (now - earlier.at >= IN_FLIGHT_SECONDS) return earlier.answer;
  // Adding 0 reads the completion counter (creating it at 0 when absent) with the write access it has.
  const marks = await guarded(
    () => deps.guards.increment(completionKey(key), now + IDEMPOTENCY_WINDOW_SECONDS, 0),
    deps.log,
  );
  if (marks > 0) return earlier.answer;
  throw new IdempotencyKeyInFlightError();
}

/**
 * Marks the request under `key` completed: repeats now replay its answer instead of 409. Best effort: a
 * failed mark makes repeats 409 for IN_FLIGHT_SECONDS at most, never a second send.
 */
export async function completed(key: string, deps: IdempotencyDeps): Promise<void> {
  const now = Math.floor(deps.clock.now() / 1000);
  await deps.guards.increment(completionKey(key), now + IDEMPOTENCY_WINDOW_SECONDS).catch(() => {
    deps.log.warn('could not mark an Idempotency-Key completed', { outcome: 'idempotency-mark-failed' });
  });
}

function completionKey(key: string): string {
  return `${key}#done`;
}

/**
 * Records written before `at` existed are older than any request in flight; those written before scheduled
 * send hold `{payloadHash, id}` only and replay as `{id}`, as they did.
 */
function parseRemembered(
  value: string,
): { payloadHash: string; answer: RememberedAnswer; at: number } | undefined {
  try {
    const parsed = JSON.parse(value) as {
      payloadHash?: unknown;
      id?: unknown;
      scheduledAt?: unknown;
      at?: unknown;
    };
    if (typeof parsed.payloadHash !== 'string' || typeof parsed.id !== 'string') return undefined;
    return {
      payloadHash: parsed.payloadHash,
      answer: {
        id: parsed.id,
        ...(typeof parsed.scheduledAt === 'string'
          ? { status: 'scheduled' as const, scheduledAt: parsed.scheduledAt }
          : {}),
      },
      at: typeof parsed.at === 'number' ? parsed.at : 0,
    };
  } catch {
    return undefined;
  }
}

export function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
