import { createHash } from 'node:crypto';
import type { CaptchaConfig, FormConfig } from '../config/config';
import { HttpError, ServiceUnavailableError } from '../errors';
import type { GuardStore, Log } from '../ports';
import type { SubmittedFields } from './form-body';

/**
 * Server-side captcha verification for Cloudflare Turnstile, hCaptcha and reCAPTCHA v2/v3. All three
 * answer the same siteverify protocol: POST secret, response (the token) and remoteip; get back
 * { success, hostname, action?, score?, error-codes }.
 * https://developers.cloudflare.com/turnstile/get-started/server-side-validation/
 * https://docs.hcaptcha.com/#verify-the-user-response-server-side
 * https://developers.google.com/recaptcha/docs/verify
 * It fails closed: a missing, invalid, replayed, wrong-hostname or wrong-action token is refused (403);
 * a verifier that cannot answer gets the visitor a 503 with Retry-After, never a pass.
 */

export const CAPTCHA_TOKEN_FIELD: Readonly<Record<CaptchaConfig['provider'], string>> = {
  turnstile: 'cf-turnstile-response',
  hcaptcha: 'h-captcha-response',
  'recaptcha-v2': 'g-recaptcha-response',
  'recaptcha-v3': 'g-recaptcha-response',
};

/** Form controls that widgets add; they are never listed in the mail. */
export const CAPTCHA_FIELDS: ReadonlySet<string> = new Set(Object.values(CAPTCHA_TOKEN_FIELD));

export const DEFAULT_VERIFY_URL: Readonly<Record<CaptchaConfig['provider'], string>> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  'recaptcha-v2': 'https://www.google.com/recaptcha/api/siteverify',
  'recaptcha-v3': 'https://www.google.com/recaptcha/api/siteverify',
};

export interface CaptchaVerification {
  readonly success: boolean;
  readonly hostname?: string | undefined;
  readonly action?: string | undefined;
  readonly score?: number | undefined;
  readonly errorCodes: ReadonlyArray<string>;
}

/** Asks a provider about a token. Throws CaptchaUnavailableError when it cannot get an answer. */
export interface CaptchaVerifier {
  verify(request: {
    url: string;
    secret: string;
    token: string;
    remoteIp: string | undefined;
    timeoutMs: number;
  }): Promise<CaptchaVerification>;
}

export class CaptchaRejectedError extends HttpError {
  readonly reason: string;

  constructor(reason: string) {
    super(403, 'Forbidden', 'The captcha is missing, invalid or expired; complete it and send again.');
    this.name = 'CaptchaRejectedError';
    this.reason = reason;
  }
}

/** The verifier timed out, failed or answered nonsense. */
export class CaptchaUnavailableError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'CaptchaUnavailableError';
  }
}

export interface CaptchaDeps {
  readonly verifier: CaptchaVerifier;
  /** The form's secret key, resolved at cold start; undefined when it could not be. */
  readonly secret: (formId: string) => string | undefined;
  readonly guards: GuardStore;
  readonly nowMs: number;
  readonly log: Log;
}

/** How long a token is remembered to refuse its replay: providers accept a token for at most 5 minutes. */
const REPLAY_WINDOW_SECONDS = 600;

export async function checkCaptcha(
  form: FormConfig,
  fields: SubmittedFields,
  clientIp: string | undefined,
  deps: CaptchaDeps,
): Promise<void> {
  const captcha = form.captcha;
  if (!captcha) return;
  const token = fields.find(([name]) => name === CAPTCHA_TOKEN_FIELD[captcha.provider])?.[1] ?? '';
  // Tokens are a few hundred to ~2,000 characters; anything else is not worth a call.
  if (token === '' || token.length > 4_096) throw new CaptchaRejectedError('missing-input-response');

  const secret = deps.secret(form.id);
  if (secret === undefined) {
    deps.log.error('captcha secret unavailable', { formId: form.id, outcome: 'captcha-unavailable' });
    throw new ServiceUnavailableError('Submissions cannot be checked right now; try again shortly.', 30);
  }

  let result: CaptchaVerification;
  try {
    result = await deps.verifier.verify({
      url: captcha.verifyUrl ?? DEFAULT_VERIFY_URL[captcha.provider],
      secret,
      token,
      remoteIp: clientIp,
      timeoutMs: captcha.timeoutMs,
    });
  } catch (error) {
    deps.log.warn('captcha verifier unavailable', {
      formId: form.id,
      outcome: 'captcha-unavailable',
      reason: error instanceof Error ? error.message : 'unknown',
    });
    throw new ServiceUnavailableError('Submissions cannot be checked right now; try again shortly.', 5);
  }

  if (!result.success) throw new CaptchaRejectedError(result.errorCodes.join(',') || 'invalid');
  const hostnames = captcha.hostnames ?? form.allowedOrigins.map((origin) => new URL(origin).hostname);
  if (hostnames.length > 0 && (result.hostname === undefined || !hostnames.includes(result.hostname))) {
    throw new CaptchaRejectedError('hostname-mismatch');
  }
  if (captcha.action !== undefined && result.action !== captcha.action)
    throw new CaptchaRejectedError('action-mismatch');
  if (captcha.provider === 'recaptcha-v3' && (result.score ?? 0) < captcha.minScore) {
    throw new CaptchaRejectedError('score-too-low');
  }

  // The provider refuses a token it has seen, but only if it is asked again; remember it here too, so a
  // replay is refused even when the verifier is lenient.
  const nowSeconds = Math.floor(deps.nowMs / 1000);
  const tokenKey = `captcha#${createHash('sha256').update(token).digest('base64url')}`;
  const seen = await deps.guards.remember(tokenKey, '1', nowSeconds, nowSeconds + REPLAY_WINDOW_SECONDS);
  if (seen !== undefined) throw new CaptchaRejectedError('replayed');
}
