import { describe, expect, it } from 'vitest';
import { PermanentSendError, TransientSendError } from '../../functions/core/errors';
import { classifySendError } from '../../functions/core/relay/send-errors';

/** An error shaped like the ones the AWS SDK v3 throws for SES v2. */
function sesError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

/** An error shaped like nodemailer's SMTP errors. */
function smtpError(message: string, fields: { code?: string; responseCode?: number }): Error {
  return Object.assign(new Error(message), fields);
}

describe('Core: classifySendError', () => {
  describe('SES', () => {
    it.each([
      ['MessageRejected', 'Email address is not verified.'],
      ['BadRequestException', 'Invalid header'],
      ['MailFromDomainNotVerifiedException', 'MAIL FROM domain not verified'],
      ['NotFoundException', 'Configuration set does not exist'],
    ])('treats %s as permanent', (name, message) => {
      // Act
      const result = classifySendError(sesError(name, message, 400));

      // Assess
      expect(result).toBeInstanceOf(PermanentSendError);
      expect(result.retryable).toBe(false);
      expect(result.reason).toBe(`ses ${name}: ${message}`);
    });

    it.each([
      ['TooManyRequestsException', 429],
      ['LimitExceededException', 400],
      ['InternalFailure', 500],
      ['ServiceUnavailable', 503],
      ['AccountSuspendedException', 400],
    ])('treats %s (%i) as transient', (name, status) => {
      const result = classifySendError(sesError(name, 'try later', status));
      expect(result).toBeInstanceOf(TransientSendError);
      expect(result.retryable).toBe(true);
      expect(result.reason).toBe(`ses ${name} (${status}): try later`);
    });

    it('treats a TimeoutError as transient', () => {
      const error = Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' });
      const result = classifySendError(error);
      expect(result).toBeInstanceOf(TransientSendError);
      expect(result.reason).toBe('timeout: TimeoutError');
    });

    it('keeps the original error as the cause', () => {
      const original = sesError('MessageRejected', 'no', 400);
      expect(classifySendError(original).cause).toBe(original);
    });
  });

  describe('network', () => {
    it.each(['ETIMEDOUT', 'ECONNECTION', 'ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND'])(
      'treats %s as transient',
      (code) => {
        const result = classifySendError(smtpError('socket trouble', { code }));
        expect(result).toBeInstanceOf(TransientSendError);
        expect(result.reason).toBe(`network ${code}: socket trouble`);
      },
    );
  });

  describe('SMTP', () => {
    it.each([421, 450, 451, 452])('treats reply %i as transient', (responseCode) => {
      const result = classifySendError(smtpError('Try again later', { code: 'EENVELOPE', responseCode }));
      expect(result).toBeInstanceOf(TransientSendError);
      expect(result.reason).toBe(`smtp ${responseCode}: Try again later`);
    });

    it.each([550, 552, 553, 554])('treats reply %i as permanent', (responseCode) => {
      const result = classifySendError(smtpError('Mailbox unavailable', { code: 'EENVELOPE', responseCode }));
      expect(result).toBeInstanceOf(PermanentSendError);
      expect(result.reason).toBe(`smtp ${responseCode}: Mailbox unavailable`);
    });

    it('treats an authentication failure as transient even with a 5xx reply', () => {
      const result = classifySendError(
        smtpError('Invalid login: 535 5.7.8 Authentication failed', { code: 'EAUTH', responseCode: 535 }),
      );
      expect(result).toBeInstanceOf(TransientSendError);
      expect(result.reason).toBe('smtp auth failed: Invalid login: 535 5.7.8 Authentication failed');
    });
  });

  it('passes an already classified error through unchanged', () => {
    const permanent = new PermanentSendError('cannot compose');
    const transient = new TransientSendError('later');
    expect(classifySendError(permanent)).toBe(permanent);
    expect(classifySendError(transient)).toBe(transient);
  });

  it.each([
    ['a plain Error', new Error('boom'), 'Error: boom'],
    ['a string', 'boom', 'Error:'],
    ['undefined', undefined, 'Error:'],
  ])('retries an unknown failure: %s', (_, error, reason) => {
    const result = classifySendError(error);
    expect(result).toBeInstanceOf(TransientSendError);
    expect(result.reason).toBe(reason);
  });

  describe('reasons', () => {
    it('mask every address the provider quoted', () => {
      // Prepare
      const error = sesError(
        'MessageRejected',
        'Email address is not verified. The following identities failed the check in region US-EAST-1: jane.doe@example.com, <john+tag@sub.example.org>',
        400,
      );

      // Act
      const { reason } = classifySendError(error);

      // Assess
      expect(reason).toBe(
        'ses MessageRejected: Email address is not verified. The following identities failed the check in region US-EAST-1: ***@example.com, <***@sub.example.org>',
      );
      expect(reason).not.toContain('jane');
      expect(reason).not.toContain('john');
    });

    it('mask addresses in SMTP replies and collapse line breaks', () => {
      const { reason } = classifySendError(
        smtpError('550 5.1.1 <jane@example.com>:\r\n Recipient address rejected', {
          code: 'EENVELOPE',
          responseCode: 550,
        }),
      );
      expect(reason).toBe('smtp 550: 550 5.1.1 <***@example.com>: Recipient address rejected');
    });

    it('are at most 200 characters', () => {
      // Prepare
      const error = sesError('MessageRejected', `${'x'.repeat(500)} jane@example.com`, 400);

      // Act
      const { reason } = classifySendError(error);

      // Assess
      expect(reason).toHaveLength(200);
      expect(reason.endsWith('...')).toBe(true);
      expect(reason.startsWith('ses MessageRejected: xxx')).toBe(true);
    });

    it('never reveal an address cut in half by the bound', () => {
      const prefix = 'ses MessageRejected: ';
      const message = `${'x'.repeat(200 - prefix.length - 10)} jane.doe.secret@example.com`;
      const { reason } = classifySendError(sesError('MessageRejected', message, 400));
      expect(reason).not.toContain('jane');
      expect(reason).toHaveLength(200);
    });
  });
});
