import {
  CaptchaUnavailableError,
  type CaptchaVerification,
  type CaptchaVerifier,
} from '../core/forms/captcha';

/** The siteverify call over HTTPS, bounded by the form's timeout. */
export const httpCaptchaVerifier: CaptchaVerifier = {
  async verify({ url, secret, token, remoteIp, timeoutMs }): Promise<CaptchaVerification> {
    const body = new URLSearchParams({ secret, response: token });
    if (remoteIp) body.set('remoteip', remoteIp);
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new CaptchaUnavailableError(error instanceof Error ? error.name : 'fetch failed', {
        cause: error,
      });
    }
    if (!response.ok) throw new CaptchaUnavailableError(`verifier answered ${response.status}`);
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      throw new CaptchaUnavailableError('verifier answered something other than JSON', { cause: error });
    }
    if (
      typeof json !== 'object' ||
      json === null ||
      typeof (json as { success?: unknown }).success !== 'boolean'
    ) {
      throw new CaptchaUnavailableError('verifier answer has no success flag');
    }
    const answer = json as Record<string, unknown>;
    const codes = answer['error-codes'];
    return {
      success: answer.success === true,
      hostname: typeof answer.hostname === 'string' ? answer.hostname : undefined,
      action: typeof answer.action === 'string' ? answer.action : undefined,
      score: typeof answer.score === 'number' ? answer.score : undefined,
      errorCodes: Array.isArray(codes) ? codes.filter((c): c is string => typeof c === 'string') : [],
    };
  },
};
