import { describe, expect, it } from 'vitest';
import { TooManyFailedAuthenticationsError, UnauthorizedError } from '../../functions/core/api/api-keys';
import {
  BadRequestError,
  ConflictError,
  ForbiddenOriginError,
  HttpError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../functions/core/errors';
import { CaptchaRejectedError } from '../../functions/core/forms/captcha';
import { TooManyRequestsError } from '../../functions/core/forms/guards';
import { REJECTION_REASONS, rejectionReason } from '../../functions/core/metrics';

describe('Core: rejectionReason', () => {
  it.each([
    [new ValidationError([{ field: 'email', detail: 'is required' }]), 'validation'],
    [new BadRequestError('The body is not valid JSON.'), 'bad-request'],
    [new UnauthorizedError('Missing API key.'), 'unauthorized'],
    [new ForbiddenOriginError(), 'origin'],
    [new CaptchaRejectedError('invalid-input-response'), 'captcha'],
    [new NotFoundError('There is no form "x".'), 'not-found'],
    [new MethodNotAllowedError('POST'), 'method-not-allowed'],
    [new ConflictError('Idempotency-Key reused.'), 'conflict'],
    [new PayloadTooLargeError('too large'), 'too-large'],
    [new UnsupportedMediaTypeError(), 'unsupported-media'],
    [new TooManyRequestsError(60), 'rate-limited'],
    [new TooManyFailedAuthenticationsError(60), 'rate-limited'],
    [new HttpError(418, "I'm a teapot", 'no'), 'other'],
  ] as const)('names %s as %s', (error, reason) => {
    expect(rejectionReason(error)).toBe(reason);
  });

  it('only ever answers a value of the fixed list, whatever the status', () => {
    for (let status = 400; status < 600; status += 1) {
      expect(REJECTION_REASONS).toContain(rejectionReason(new HttpError(status, 'x', 'y')));
    }
  });
});
