import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { ConfigError } from '../../functions/core/errors';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.field}: ${p.message}`);
    throw error;
  }
  return [];
}

const form = { id: 'contact', recipients: ['owner@acme-widgets.com'], subject: 'Hi {{name}}' };

describe('Config: error wording', () => {
  it('says a missing field is required', () => {
    expect(problems({ forms: [form] })).toEqual(['postroom.sender: is required']);
    expect(
      problems({
        sender: 'a@acme-widgets.com',
        forms: [{ id: 'contact', recipients: ['a@acme-widgets.com'] }],
      }),
    ).toEqual(['postroom.forms["contact"].subject: is required']);
  });

  it('asks for a list of addresses where one address was written, naming the form by its id', () => {
    const found = problems({
      sender: 'a@acme-widgets.com',
      forms: [form, { ...form, id: 'sales', recipients: 'sales@acme-widgets.com' }],
    });
    expect(found).toEqual([
      'postroom.forms["sales"].recipients: must be a list of addresses in [ ], even for one',
    ]);
    expect(found.join()).not.toContain('Invalid input');
  });

  it('words types, bounds, choices and unknown fields for people', () => {
    const found = problems({
      sender: 'a@acme-widgets.com',
      transport: { kind: 'sns' },
      api: { maxBodyBytes: 10, waf: { enabled: 'yes' } },
      queue: { batchSize: 11 },
      forms: [
        { ...form, subject: '', recipients: [], captcha: { provider: 'recaptcha', secret: 's' }, cc: [] },
      ],
    });
    expect(found).toEqual([
      'postroom.transport.kind: must be "ses" or "smtp"',
      'postroom.api.maxBodyBytes: must be at least 1024',
      'postroom.api.waf.enabled: must be true or false',
      'postroom.queue.batchSize: must be at most 10',
      'postroom.forms["contact"].recipients: must have at least 1 entry',
      'postroom.forms["contact"].subject: must not be empty',
      'postroom.forms["contact"].captcha.provider: must be one of "turnstile", "hcaptcha", "recaptcha-v2", "recaptcha-v3"',
      'postroom.forms["contact"]: has a field it does not know: "cc" (check the spelling; docs/configuration.md lists every field)',
    ]);
  });
});

describe('Config: subject placeholders', () => {
  const withSubject = (subject: string, extra: Record<string, unknown> = {}) =>
    problems({ sender: 'a@acme-widgets.com', forms: [{ ...form, subject, ...extra }] });

  it('accepts the fields every submission has, and extra fields when the form lets them through', () => {
    expect(withSubject('{{name}} <{{ email }}> wrote: {{message}}')).toEqual([]);
    expect(withSubject('Quote for {{company}}')).toEqual([]);
  });

  it('reports at start a placeholder naming a field the form does not have', () => {
    expect(withSubject('New message from {{Name}}')).toEqual([
      'postroom.forms["contact"].subject: has {{Name}}, but field names are case-sensitive: the form\'s field is {{name}}',
    ]);
    expect(withSubject('Quote for {{company}}', { maxExtraFields: 0 })).toEqual([
      'postroom.forms["contact"].subject: has {{company}}, a field the form does not have: with maxExtraFields 0 only email, name and message reach the mail',
    ]);
    expect(withSubject('From {{_next}}')[0]).toContain('a form control');
    expect(withSubject('From {{name!}}')[0]).toContain('not a field name');
  });
});
