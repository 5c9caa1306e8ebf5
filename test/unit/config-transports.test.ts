import { describe, expect, it } from 'vitest';
import { parseConfig, secretSuffix } from '../../functions/core/config/config';

const MINIMAL = {
  sender: 'no-reply@example.com',
  forms: [{ id: 'contact', recipients: ['owner@example.com'], subject: 'Hello' }],
};

const SMTP = { kind: 'smtp', host: 'smtp.example.net' };

describe('Core: parseConfig, the failover list (transports) and the breaker', () => {
  it('makes the single transport a list of one, named by its kind', () => {
    // Act
    const config = parseConfig({ ...MINIMAL, transport: SMTP });

    // Assess
    expect(config.transports.map((t) => t.id)).toEqual(['smtp']);
    expect(config.transport).toBe(config.transports[0]);
  });

  it('keeps the order of transports, names them by kind, numbered from the second of a kind, and fills SMTP defaults', () => {
    // Act
    const config = parseConfig({
      ...MINIMAL,
      transports: [{ kind: 'ses' }, SMTP, { ...SMTP, host: 'backup.example.net' }],
    });

    // Assess
    expect(config.transports.map((t) => [t.kind, t.id])).toEqual([
      ['ses', 'ses'],
      ['smtp', 'smtp'],
      ['smtp', 'smtp-2'],
    ]);
    expect(config.transport).toEqual({ kind: 'ses', id: 'ses' });
    const backup = config.transports[2];
    expect(backup?.kind === 'smtp' && [backup.host, backup.ehloName, backup.port]).toEqual([
      'backup.example.net',
      'example.com',
      587,
    ]);
  });

  it('keeps an id given to a transport', () => {
    const config = parseConfig({ ...MINIMAL, transports: [{ ...SMTP, id: 'mailgun' }, { kind: 'ses' }] });
    expect(config.transports.map((t) => t.id)).toEqual(['mailgun', 'ses']);
  });

  it('fills the breaker defaults and takes the ones given', () => {
    expect(parseConfig(MINIMAL).breaker).toEqual({
      minRequests: 10,
      failureRate: 0.5,
      windowSeconds: 60,
      openSeconds: 60,
    });
    expect(parseConfig({ ...MINIMAL, breaker: { minRequests: 3, openSeconds: 5 } }).breaker).toEqual({
      minRequests: 3,
      failureRate: 0.5,
      windowSeconds: 60,
      openSeconds: 5,
    });
  });

  it.each([
    [
      'both transport and transports',
      { transport: { kind: 'ses' }, transports: [{ kind: 'ses' }] },
      /postroom\.transports: cannot be given with postroom\.transport/,
    ],
    ['an empty list', { transports: [] }, /postroom\.transports: must have at least 1 entry/],
    [
      'two SES transports',
      { transports: [{ kind: 'ses' }, SMTP, { kind: 'ses', id: 'ses-b' }] },
      /postroom\.transports\[2\]\.kind: only one SES transport is allowed/,
    ],
    [
      'two transports with one id',
      {
        transports: [
          { ...SMTP, id: 'relay' },
          { ...SMTP, host: 'b.example.net', id: 'relay' },
        ],
      },
      /postroom\.transports\[1\]\.id: duplicate transport id "relay"/,
    ],
    [
      'an id that is no name',
      { transports: [{ ...SMTP, id: 'Relay One' }] },
      /postroom\.transports\[0\]\.id: must be 1-32 lowercase letters, digits or dashes/,
    ],
    [
      'an SMTP relay without host',
      { transports: [{ kind: 'ses' }, { kind: 'smtp' }] },
      /postroom\.transports\[1\]\.host: is required/,
    ],
    [
      'an SES domain identity in the list that does not cover the sender',
      { transports: [SMTP, { kind: 'ses', domainIdentity: 'other.example' }] },
      /postroom\.transports\[1\]\.domainIdentity: must be the sender's domain/,
    ],
    [
      'a failure rate above 1',
      { breaker: { failureRate: 50 } },
      /postroom\.breaker\.failureRate: must be at most 1/,
    ],
    [
      'a zero failure rate',
      { breaker: { failureRate: 0 } },
      /postroom\.breaker\.failureRate: must be more than 0/,
    ],
    [
      'a window of 0 s',
      { breaker: { windowSeconds: 0 } },
      /postroom\.breaker\.windowSeconds: must be at least 1/,
    ],
    [
      'an unknown breaker field',
      { breaker: { threshold: 3 } },
      /postroom\.breaker: has a field it does not know: "threshold"/,
    ],
  ])('refuses %s, naming the field', (_name, overrides, message) => {
    expect(() => parseConfig({ ...MINIMAL, ...overrides })).toThrow(message);
  });

  it('names the secret variables of an SMTP relay by its id', () => {
    expect(secretSuffix('smtp')).toBe('');
    expect(secretSuffix('smtp-2')).toBe('_SMTP_2');
  });
});
