import { describe, expect, it } from 'vitest';
import { RecipientsRefusedError } from '../../functions/core/errors';
import {
  type AttemptVerdict,
  classifyAttempt,
  SMTP_PHASES,
  type SmtpPhase,
} from '../../functions/core/failover/attempt-outcome';

/** An error shaped like the AWS SDK v3's for SES v2 (an answer from SES carries $metadata). */
function ses(name: string, message: string, httpStatusCode?: number): Error {
  return Object.assign(
    new Error(message),
    { name },
    httpStatusCode === undefined ? {} : { $metadata: { httpStatusCode } },
  );
}

/** An error shaped like nodemailer's, with the phase the SMTP transport adapter adds. */
function smtp(
  phase: SmtpPhase,
  fields: { code?: string; responseCode?: number; response?: string } = {},
): Error {
  return Object.assign(new Error('smtp failure'), { smtpPhase: phase }, fields);
}

describe('Core: classifyAttempt (docs/failover.md, the rules table)', () => {
  describe('SES', () => {
    it.each<[string, string, number | undefined, AttemptVerdict]>([
      // Certainly not accepted: try the next provider now.
      ['TooManyRequestsException', 'Maximum sending rate exceeded.', 429, 'not-accepted'],
      ['LimitExceededException', 'Daily message quota exceeded.', 400, 'not-accepted'],
      ['InternalFailure', 'internal failure', 500, 'not-accepted'],
      ['ServiceUnavailable', 'service unavailable', 503, 'not-accepted'],
      ['SomethingNew', 'a 502 from a proxy', 502, 'not-accepted'],
      // The account or the setup: fail over, and alarm.
      ['SendingPausedException', 'Sending is paused for this account.', 400, 'provider-config'],
      ['AccountSuspendedException', 'The account is suspended.', 400, 'provider-config'],
      ['MailFromDomainNotVerifiedException', 'MAIL FROM domain not verified', 400, 'provider-config'],
      ['NotFoundException', 'Configuration set does not exist', 404, 'provider-config'],
      ['AccessDeniedException', 'not authorized to perform ses:SendEmail', 403, 'provider-config'],
      ['UnrecognizedClientException', 'The security token is invalid', 403, 'provider-config'],
      [
        'MessageRejected',
        'Email address is not verified. The following identities failed the check',
        400,
        'provider-config',
      ],
      // The message: no failover, the message fails with its reason.
      ['MessageRejected', 'Email address is on the account suppression list.', 400, 'message-permanent'],
      ['BadRequestException', 'Illegal header', 400, 'message-permanent'],
      ['SomethingElse', 'a 4xx SES has no name for', 400, 'message-permanent'],
      // Network, before any request left: not accepted.
      ['Error', 'connect ECONNREFUSED 127.0.0.1:1', undefined, 'not-accepted'],
      // No answer after the request was written: ambiguous.
      ['TimeoutError', 'socket timed out', undefined, 'ambiguous'],
      ['AbortError', 'aborted', undefined, 'ambiguous'],
      ['Error', 'an error with no shape at all', undefined, 'ambiguous'],
    ])('%s (%s, %s) is %s', (name, message, status, verdict) => {
      const error = ses(name, message, status);
      if (message.includes('ECONNREFUSED')) Object.assign(error, { code: 'ECONNREFUSED' });
      expect(classifyAttempt(error, 'ses').verdict).toBe(verdict);
    });

    it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'CERT_HAS_EXPIRED'])(
      'a connection that never opened (%s) is not accepted',
      (code) => {
        expect(classifyAttempt(Object.assign(new Error(code), { code }), 'ses').verdict).toBe('not-accepted');
      },
    );

    it.each(['ECONNRESET', 'EPIPE', 'ETIMEDOUT'])(
      'a connection lost with the request out (%s) is ambiguous',
      (code) => {
        expect(classifyAttempt(Object.assign(new Error(code), { code }), 'ses').verdict).toBe('ambiguous');
      },
    );

    it('masks addresses in the reason', () => {
      const outcome = classifyAttempt(
        ses('MessageRejected', 'Address blocked: jane@example.org', 400),
        'ses',
      );
      expect(outcome.reason).toBe('ses MessageRejected: Address blocked: ***@example.org');
    });
  });

  describe('SMTP, by the phase the session failed at', () => {
    it.each<[SmtpPhase, { code?: string; responseCode?: number }, AttemptVerdict]>([
      ['connect', { code: 'ECONNECTION' }, 'not-accepted'],
      ['connect', { code: 'EDNS' }, 'not-accepted'],
      ['connect', { code: 'ETIMEDOUT' }, 'not-accepted'],
      ['ehlo', { responseCode: 421 }, 'not-accepted'],
      ['ehlo', { responseCode: 554 }, 'not-accepted'],
      ['mail', { responseCode: 451 }, 'not-accepted'],
      ['mail', { responseCode: 553 }, 'not-accepted'],
      ['data', { responseCode: 554 }, 'not-accepted'],
      ['rcpt', { code: 'ECONNECTION' }, 'not-accepted'],
      ['starttls', { code: 'ETLS', responseCode: 454 }, 'provider-config'],
      ['auth', { code: 'EAUTH', responseCode: 535 }, 'provider-config'],
      ['rcpt', { responseCode: 550 }, 'message-permanent'],
      ['after-body', { code: 'EMESSAGE', responseCode: 554 }, 'message-permanent'],
      ['after-body', { code: 'EMESSAGE', responseCode: 451 }, 'not-accepted'],
      ['after-body', { code: 'ECONNECTION' }, 'ambiguous'],
      ['after-body', { code: 'ETIMEDOUT' }, 'ambiguous'],
      ['unknown', { code: 'ECONNECTION' }, 'ambiguous'],
    ])('at %s with %j: %s', (phase, fields, verdict) => {
      expect(classifyAttempt(smtp(phase, fields), 'smtp').verdict).toBe(verdict);
    });

    it('takes an error without a known phase as ambiguous: it cannot tell whether the body was sent', () => {
      expect(
        classifyAttempt(Object.assign(new Error('closed'), { code: 'ECONNECTION' }), 'smtp').verdict,
      ).toBe('ambiguous');
      expect(classifyAttempt(smtp('nonsense' as SmtpPhase), 'smtp').verdict).toBe('ambiguous');
    });

    it('has a verdict for every phase, and only the one after the body without a reply is ambiguous', () => {
      const verdicts = SMTP_PHASES.map((phase) => [
        phase,
        classifyAttempt(smtp(phase, { code: 'ECONNECTION' }), 'smtp').verdict,
      ]);
      expect(verdicts.filter(([, verdict]) => verdict === 'ambiguous').map(([phase]) => phase)).toEqual([
        'after-body',
        'unknown',
      ]);
    });
  });

  it('takes every recipient refused as a message failure, for either kind', () => {
    const refused = new RecipientsRefusedError([
      { recipient: 'a@rejected.example.net', code: 550, reply: '550 no such user a@rejected.example.net' },
    ]);
    for (const kind of ['ses', 'smtp'] as const) {
      const outcome = classifyAttempt(refused, kind);
      expect(outcome.verdict).toBe('message-permanent');
      expect(outcome.reason).not.toContain('a@rejected');
    }
  });

  it('takes every recipient refused for good with a reply naming the sender as the relay refusing the sender', () => {
    // Postfix with smtpd_delay_reject (its default) refuses a sender its login may not use at RCPT TO.
    const senderReply = (to: string) => ({
      recipient: to,
      code: 553,
      reply:
        '553 5.7.1 <No-Reply@example.com>: Sender address rejected: not owned by user relay@postroom.test',
    });
    const sender = 'no-reply@example.com';
    const bySender = new RecipientsRefusedError(
      [senderReply('a@example.org'), senderReply('b@example.org')],
      {
        sender,
      },
    );
    const outcome = classifyAttempt(bySender, 'smtp');
    expect(outcome.verdict).toBe('provider-config');
    expect(outcome.reason).toMatch(/^the relay refused the sender at RCPT TO: 553 5\.7\.1/);
    expect(outcome.reason).not.toContain('no-reply@example.com');

    // Not the sender's: one reply names its recipient, one is for now, or the sender is not known.
    const namesRecipient = new RecipientsRefusedError(
      [
        senderReply('a@example.org'),
        {
          recipient: 'b@example.org',
          code: 550,
          reply: `550 <b@example.org> <${sender}>: Recipient rejected`,
        },
      ],
      { sender },
    );
    const forNow = new RecipientsRefusedError([{ ...senderReply('a@example.org'), code: 450 }], { sender });
    const unknownSender = new RecipientsRefusedError([senderReply('a@example.org')]);
    for (const error of [namesRecipient, forNow, unknownSender])
      expect(classifyAttempt(error, 'smtp').verdict).toBe('message-permanent');
  });
});
