/**
 * The state of one quota a request was counted against, as the RateLimit-Policy and RateLimit header fields
 * announce it, per draft-ietf-httpapi-ratelimit-headers-10 (September 2025):
 *   RateLimit-Policy: "per-ip";q=5;w=60        the policy: quota `q` per window of `w` seconds
 *   RateLimit: "per-ip";r=2;t=42               what is left of it (`r`) and seconds until it resets (`t`)
 * Both are Structured Field Lists (RFC 8941) whose items are the policy's name, a String; several policies
 * are listed comma-separated. A 429 carries Retry-After too (RFC 9110 section 10.2.3), which the draft
 * keeps as the field a client must honour.
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/10/
 */
export interface QuotaState {
  /** The policy's name: letters, digits and `-` (it is written inside an sf-string). */
  readonly policy: string;
  /** Quota units (requests) per window. */
  readonly quota: number;
  readonly windowSeconds: number;
  /** Units left in the current window (never below 0). */
  readonly remaining: number;
  /** Seconds until the current window ends and the quota is whole again. */
  readonly resetSeconds: number;
}

/** Fixed-window state: `count` requests counted so far in the window ending at `windowEnd` (seconds). */
export function fixedWindowState(
  policy: string,
  limit: { readonly max: number; readonly windowSeconds: number },
  count: number,
  nowSeconds: number,
  windowEnd: number,
): QuotaState {
  return {
    policy,
    quota: limit.max,
    windowSeconds: limit.windowSeconds,
    remaining: Math.max(0, limit.max - count),
    resetSeconds: Math.max(0, windowEnd - nowSeconds),
  };
}

/** The two header fields for the quotas a request was counted against; none when it was counted in none. */
export function rateLimitHeaders(states: ReadonlyArray<QuotaState>): Record<string, string> {
  if (states.length === 0) return {};
  return {
    'ratelimit-policy': states
      .map((state) => `"${state.policy}";q=${state.quota};w=${state.windowSeconds}`)
      .join(', '),
    ratelimit: states
      .map((state) => `"${state.policy}";r=${state.remaining};t=${state.resetSeconds}`)
      .join(', '),
  };
}
