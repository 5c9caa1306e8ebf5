import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { ConfigError } from '../../functions/core/errors';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import { validateSubmission } from '../../functions/core/forms/form-submission';
import { mailJobSchema } from '../../functions/core/mail/mail-job';
import { CREATED_AT, JOB_ID, shippedConfigInput } from '../fakes/config';
import { shippedTemplatesNow } from '../support/templates';

type RawForm = Record<string, unknown>;

function shippedForm(): RawForm {
  const forms = shippedConfigInput().forms as RawForm[];
  const form = forms[0];
  if (!form) throw new Error('the shipped config has no form');
  return form;
}

function withForm(overrides: RawForm): Record<string, unknown> {
  return { ...shippedConfigInput(), forms: [{ ...shippedForm(), ...overrides }] };
}

/** Runs parseConfig and returns the ConfigError it threw. */
function configError(raw: unknown): ConfigError {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected parseConfig to throw a ConfigError');
}

const MINIMAL = {
  sender: 'no-reply@example.com',
  forms: [{ id: 'contact', recipients: ['owner@example.com'], subject: 'Hello' }],
};

describe('Core: parseConfig', () => {
  it('accepts the configuration cdk.json ships (frozen in test/fixtures/postroom.cdk.json)', () => {
    // Act
    const config = parseConfig(shippedConfigInput());

    // Assess
    expect(config.sender).toEqual({ name: 'Postroom', address: 'no-reply@example.com' });
    expect(config.transport).toEqual({ kind: 'ses', id: 'ses' });
    expect(config.forms).toHaveLength(1);
    expect(config.forms[0]).toMatchObject({
      id: 'contact',
      recipients: ['owner@example.com'],
      subject: 'New message from {{name}}',
      allowedOrigins: ['http://localhost:3000', 'http://127.0.0.1:3000'],
      redirectUrl: 'http://localhost:3000/thanks',
    });
    expect(config.relay.claimLeaseSeconds).toBeGreaterThan(config.relay.timeoutSeconds);
  });

  it('fills every default for a minimal configuration', () => {
    // Act
    const config = parseConfig(MINIMAL);

    // Assess
    expect(config).toEqual({
      region: 'us-east-1',
      sender: { name: undefined, address: 'no-reply@example.com' },
      transport: { kind: 'ses', id: 'ses' },
      transports: [{ kind: 'ses', id: 'ses' }],
      breaker: { minRequests: 10, failureRate: 0.5, windowSeconds: 60, openSeconds: 60 },
      api: {
        maxBodyBytes: 65_536,
        throttleRatePerSecond: 50,
        throttleBurst: 100,
        waf: { enabled: false, requestsPerFiveMinutes: 300 },
      },
      queue: { maxReceiveCount: 5, batchSize: 10, maxConcurrency: 2, batchingWindowSeconds: 0 },
      relay: {
        timeoutSeconds: 30,
        claimLeaseSeconds: 60,
        retryBaseSeconds: 10,
        retryMaxSeconds: 900,
        recordTtlDays: 30,
      },
      monitoring: {
        level: 'essential',
        encryptTopics: false,
        traceSamplePercent: 5,
        oldestMessageAgeSeconds: 900,
        relayErrorRatePercent: 5,
        apiServerErrors: 5,
        bounceRatePercent: 5,
        complaintRatePercent: 0.1,
        logRetentionDays: 30,
      },
      attachments: { inlineMaxBytes: 153_600 },
      schedule: { maxDays: 30 },
      forms: [
        {
          id: 'contact',
          recipients: ['owner@example.com'],
          subject: 'Hello',
          allowedOrigins: [],
          maxExtraFields: 10,
          maxFieldLength: 5_000,
          allowedRedirects: [],
          rateLimit: {},
          content: { blockedWords: [] },
          files: { allowedTypes: [], maxFileBytes: 5_242_880, maxTotalBytes: 10_485_760, maxFiles: 3 },
        },
      ],
      webhooks: [],
    });
  });

  it('refuses an SES domain identity that does not cover the sender, naming postroom.transport.domainIdentity', () => {
    expect(() =>
      parseConfig({ ...MINIMAL, transport: { kind: 'ses', domainIdentity: 'other.example' } }),
    ).toThrow(/postroom\.transport\.domainIdentity: must be the sender's domain \(example\.com\)/);
  });

  it('accepts an SES domain identity that is the parent of the sender domain', () => {
    const config = parseConfig({
      ...MINIMAL,
      sender: 'no-reply@mail.example.com',
      transport: { kind: 'ses', domainIdentity: 'example.com' },
    });
    expect(config.transport).toEqual({ kind: 'ses', id: 'ses', domainIdentity: 'example.com' });
  });

  it('refuses a log retention CloudWatch does not offer, naming postroom.monitoring.logRetentionDays', () => {
    expect(() => parseConfig({ ...MINIMAL, monitoring: { level: 'verbose' } })).toThrow(
      /postroom\.monitoring\.level/,
    );
    expect(() => parseConfig({ ...MINIMAL, monitoring: { traceSamplePercent: 101 } })).toThrow(
      /postroom\.monitoring\.traceSamplePercent/,
    );
    expect(() => parseConfig({ ...MINIMAL, monitoring: { logRetentionDays: 10 } })).toThrow(
      /postroom\.monitoring\.logRetentionDays/,
    );
  });

  it('fills the SMTP transport defaults', () => {
    const config = parseConfig({ ...MINIMAL, transport: { kind: 'smtp', host: 'smtp.example.com' } });
    expect(config.transport).toEqual({
      kind: 'smtp',
      id: 'smtp',
      host: 'smtp.example.com',
      port: 587,
      secure: false,
      requireTls: true,
      tlsRejectUnauthorized: true,
      maxConnections: 5,
      timeoutSeconds: 20,
      // The EHLO name defaults to the sender's domain.
      ehloName: 'example.com',
    });
  });

  it('keeps a configured transport.smtp.ehloName and refuses one that is no domain name', () => {
    const smtp = { kind: 'smtp', host: 'smtp.example.com' };
    const named = parseConfig({ ...MINIMAL, transport: { ...smtp, ehloName: 'mta.example.net' } });
    expect(named.transport.kind === 'smtp' && named.transport.ehloName).toBe('mta.example.net');
    expect(() => parseConfig({ ...MINIMAL, transport: { ...smtp, ehloName: '[127.0.0.1]' } })).toThrow(
      /postroom\.transport\.ehloName: must be a lowercase domain name/,
    );
  });

  it('normalizes recipient addresses', () => {
    const config = parseConfig(withForm({ recipients: ['Owner@Example.COM', 'sales@Bücher.example'] }));
    expect(config.forms[0]?.recipients).toEqual(['Owner@example.com', 'sales@xn--bcher-kva.example']);
  });

  it.each([
    [
      'a bad recipient',
      withForm({ recipients: ['owner.example.com'] }),
      'postroom.forms["contact"].recipients[0]',
    ],
    [
      'a second recipient with two @',
      withForm({ recipients: ['owner@example.com', 'a@x.com@y.com'] }),
      'postroom.forms["contact"].recipients[1]',
    ],
    ['no recipients', withForm({ recipients: [] }), 'postroom.forms["contact"].recipients'],
    [
      'a sender with a comma in its name',
      { ...shippedConfigInput(), sender: 'Evil, <a@x.com>' },
      'postroom.sender',
    ],
    ['a sender that is not an address', { ...shippedConfigInput(), sender: 'postroom' }, 'postroom.sender'],
    [
      'an allowed origin with a path',
      withForm({ allowedOrigins: ['https://www.example.com/contact'] }),
      'postroom.forms["contact"].allowedOrigins[0]',
    ],
    [
      'an allowed origin with a trailing slash',
      withForm({ allowedOrigins: ['https://www.example.com', 'https://example.com/'] }),
      'postroom.forms["contact"].allowedOrigins[1]',
    ],
    [
      'an allowed origin that is not http(s)',
      withForm({ allowedOrigins: ['ftp://example.com'] }),
      'postroom.forms["contact"].allowedOrigins[0]',
    ],
    [
      'a redirect URL that is not http(s)',
      withForm({ redirectUrl: 'javascript:alert(1)' }),
      'postroom.forms["contact"].redirectUrl',
    ],
    ['an upper-case form id', withForm({ id: 'Contact' }), 'postroom.forms["Contact"].id'],
    ['an empty subject', withForm({ subject: '' }), 'postroom.forms["contact"].subject'],
    [
      'a claim lease equal to the relay timeout',
      { ...shippedConfigInput(), relay: { timeoutSeconds: 60, claimLeaseSeconds: 60 } },
      'postroom.relay.claimLeaseSeconds',
    ],
    [
      'a claim lease shorter than the relay timeout',
      { ...shippedConfigInput(), relay: { timeoutSeconds: 30, claimLeaseSeconds: 20 } },
      'postroom.relay.claimLeaseSeconds',
    ],
    [
      'a retry cap below the retry base',
      { ...shippedConfigInput(), relay: { retryBaseSeconds: 60, retryMaxSeconds: 30 } },
      'postroom.relay.retryMaxSeconds',
    ],
    [
      'a maxReceiveCount below 5',
      { ...shippedConfigInput(), queue: { maxReceiveCount: 3 } },
      'postroom.queue.maxReceiveCount',
    ],
    ['a bad region', { ...shippedConfigInput(), region: 'Europe' }, 'postroom.region'],
    ['missing forms', { sender: 'no-reply@example.com' }, 'postroom.forms'],
    ['an empty forms list', { ...shippedConfigInput(), forms: [] }, 'postroom.forms'],
    ['a missing sender', { forms: MINIMAL.forms }, 'postroom.sender'],
  ])('names the field for %s', (_, raw, field) => {
    // Act
    const error = configError(raw);

    // Assess
    expect(error.problems.map((p) => p.field)).toContain(field);
    expect(error.message).toContain(`  - ${field}: `);
  });

  it.each([
    [
      'an encoded-word in the sender',
      { ...MINIMAL, sender: '=?utf-8?q?attacker=40evil.example?=@example.com' },
      'postroom.sender',
      'must not contain an encoded-word (=?...?=): RFC 2047 forbids them in addresses',
    ],
    [
      "an encoded-word in the sender's display name",
      { ...MINIMAL, sender: '=?utf-8?b?QWRtaW4=?= <no-reply@example.com>' },
      'postroom.sender',
      'display name must not contain an encoded-word (=?...?=): give the text itself',
    ],
    [
      'an encoded-word in a recipient',
      withForm({ recipients: ['owner=?utf-7?q?+AEA-evil.example?=@example.com'] }),
      'postroom.forms["contact"].recipients[0]',
      'must not contain an encoded-word (=?...?=): RFC 2047 forbids them in addresses',
    ],
    [
      'a fullwidth @ in a recipient',
      withForm({ recipients: ['owner@evil.example\uff20example.com'] }),
      'postroom.forms["contact"].recipients[0]',
      'must contain exactly one @ (characters such as ＠ and ﹫ count as @)',
    ],
    [
      'a lone surrogate in a form subject',
      withForm({ subject: 'Hello \ud83d' }),
      'postroom.forms["contact"].subject',
      'must be valid Unicode text: it has a lone surrogate (U+D83D), which has no UTF-8 form',
    ],
    [
      'a noncharacter in an autoresponse',
      withForm({ autoresponse: { subject: 'Thanks', text: 'We got it \uffff' } }),
      'postroom.forms["contact"].autoresponse.text',
      'must not contain the Unicode noncharacter U+FFFF',
    ],
  ])('refuses %s, naming the field', (_, raw, field, message) => {
    expect(configError(raw).problems).toContainEqual({ field, message });
  });

  it('names the second form when two forms share an id', () => {
    const raw = { ...shippedConfigInput(), forms: [shippedForm(), shippedForm()] };
    const error = configError(raw);
    expect(error.problems).toEqual([
      { field: 'postroom.forms[1].id', message: 'duplicate form id "contact"' },
    ]);
  });

  it('rejects an unknown top-level key and names it', () => {
    const error = configError({ ...shippedConfigInput(), recipient: 'x@evil.com' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.field).toBe('postroom');
    expect(error.message).toContain('"recipient"');
  });

  it('takes a template of its own for the notification and the autoresponse, the text then optional', () => {
    const config = parseConfig(
      withForm({ template: 'quote', autoresponse: { subject: 'Thanks', template: 'thanks' } }),
    );
    expect(config.forms[0]?.template).toBe('quote');
    expect(config.forms[0]?.autoresponse).toMatchObject({ subject: 'Thanks', template: 'thanks' });
    expect(config.forms[0]?.autoresponse?.text).toBeUndefined();
  });

  it.each([
    [
      'an autoresponse with neither text nor template',
      { autoresponse: { subject: 'Thanks' } },
      'postroom.forms["contact"].autoresponse.text',
      'is required unless autoresponse.template names a template of its own',
    ],
    [
      'a template id that cannot be a folder of templates/',
      { template: '../welcome' },
      'postroom.forms["contact"].template',
      'must be a template id: 1-63 lowercase letters, digits or dashes',
    ],
    [
      'an autoresponse template id in capitals',
      { autoresponse: { subject: 'x', template: 'Thanks' } },
      'postroom.forms["contact"].autoresponse.template',
      'must be a template id: 1-63 lowercase letters, digits or dashes',
    ],
  ])('refuses %s, naming the field', (_, form, field, message) => {
    expect(configError(withForm(form)).problems).toContainEqual({ field, message });
  });

  it('says where the retired autoresponse.html went', () => {
    const error = configError(
      withForm({ autoresponse: { subject: 'Thanks', text: 'Hi', html: '<p>Hi</p>' } }),
    );
    expect(error.problems).toEqual([
      {
        field: 'postroom.forms["contact"].autoresponse',
        message:
          'has a field it does not know: "html" (check the spelling; docs/configuration.md lists every field); autoresponse.html is no longer read: the HTML comes from the form-autoresponse template, or from a template of your own named by autoresponse.template (docs/templates.md)',
      },
    ]);
  });

  it('rejects an unknown key inside a form and names the form', () => {
    const error = configError(withForm({ cc: ['x@evil.com'] }));
    expect(error.problems[0]?.field).toBe('postroom.forms["contact"]');
    expect(error.message).toContain('"cc"');
  });

  it('rejects a SMTP password in the config (it belongs in the environment)', () => {
    const error = configError({
      ...MINIMAL,
      transport: { kind: 'smtp', host: 'smtp.example.com', password: 'hunter2' },
    });
    expect(error.problems[0]?.field).toBe('postroom.transport');
    expect(error.message).toContain('"password"');
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a configuration that is not an object', () => {
    expect(configError(undefined).problems[0]?.field).toBe('postroom');
  });

  it('reports every bad field at once, including cross-field rules', () => {
    // Prepare: a bad recipient in one form and a duplicate form id
    const raw = {
      ...shippedConfigInput(),
      forms: [shippedForm(), { ...shippedForm(), recipients: ['not-an-address'] }],
    };

    // Act
    const error = configError(raw);

    // Assess: parseConfig promises a message that "names every bad field"
    expect(error.problems.map((p) => p.field).sort()).toEqual([
      'postroom.forms[1].id',
      'postroom.forms[1].recipients[0]',
    ]);
  });

  it('refuses a sender display name longer than a MailJob can carry, naming postroom.sender', () => {
    expect(() =>
      parseConfig({ ...shippedConfigInput(), sender: `${'N'.repeat(101)} <no-reply@example.com>` }),
    ).toThrow(/postroom\.sender: display name must be at most 100 characters/);
  });

  it('builds schema-valid mail jobs for the longest sender display name it accepts', () => {
    // Prepare: a display name at the limit
    const config = parseConfig({
      ...shippedConfigInput(),
      sender: `${'N'.repeat(100)} <no-reply@example.com>`,
    });
    const form = config.forms[0];
    if (!form) throw new Error('no form');
    const submission = validateSubmission(
      [
        ['email', 'visitor@example.org'],
        ['message', 'Hello'],
      ],
      form,
    );

    // Act
    const job = buildFormMailJob(
      config,
      form,
      submission,
      { id: JOB_ID, createdAt: CREATED_AT },
      [],
      shippedTemplatesNow(),
    );

    // Assess: a config that passes cdk synth must not make every submission fail at enqueue
    expect(mailJobSchema.safeParse(job).success).toBe(true);
  });
});

describe('Core: parseConfig relay.maxSendRate', () => {
  it('accepts a send rate and leaves it absent by default', () => {
    // Act
    const paced = parseConfig({ ...MINIMAL, relay: { maxSendRate: 14 } });

    // Assess
    expect(paced.relay.maxSendRate).toBe(14);
    expect(parseConfig(MINIMAL).relay.maxSendRate).toBeUndefined();
  });

  it('names relay.maxSendRate when it is not a positive number', () => {
    // Act
    const error = configError({ ...MINIMAL, relay: { maxSendRate: 0 } });

    // Assess
    expect(error.problems.map((p) => p.field)).toContain('postroom.relay.maxSendRate');
  });

  it('names relay.maxSendRate when a paced invocation could not send its batch within the timeout', () => {
    // Act: 2 invocations share 0.5/s, so a batch of 10 needs 40 s against a 30 s timeout.
    const error = configError({ ...MINIMAL, relay: { maxSendRate: 0.5 } });

    // Assess
    expect(error.problems).toEqual([
      expect.objectContaining({
        field: 'postroom.relay.maxSendRate',
        message: expect.stringContaining('40 s'),
      }),
    ]);
  });
});
