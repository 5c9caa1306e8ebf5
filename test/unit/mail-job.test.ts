import { describe, expect, it } from 'vitest';
import { type MailJob, parseMailJob, serializeMailJob } from '../../functions/core/mail/mail-job';
import { contactJob } from '../fakes/config';

function body(job: Record<string, unknown>): string {
  return JSON.stringify(job);
}

function rawJob(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(contactJob().job)) as Record<string, unknown>;
}

describe('Core: parseMailJob', () => {
  it('reads back exactly what serializeMailJob wrote', () => {
    // Prepare
    const { job } = contactJob();

    // Act
    const parsed = parseMailJob(serializeMailJob(job));

    // Assess
    expect(parsed).toEqual({ ok: true, job });
  });

  it('keeps a job without replyTo or sender name valid', () => {
    const { replyTo: _replyTo, ...job } = { ...contactJob().job, from: { address: 'no-reply@example.com' } };
    const parsed = parseMailJob(serializeMailJob(job as MailJob));
    expect(parsed.ok && parsed.job.replyTo).toBeUndefined();
    expect(parsed.ok && parsed.job.from).toEqual({ address: 'no-reply@example.com' });
  });

  it('rejects a body that is not JSON', () => {
    expect(parseMailJob('{"v":1,')).toEqual({ ok: false, reason: 'invalid-job: not JSON' });
  });

  it('rejects a body that is JSON but not an object', () => {
    const parsed = parseMailJob('"hello"');
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/^invalid-job: \(root\) /);
  });

  it('rejects another version and names the field', () => {
    const parsed = parseMailJob(body({ ...rawJob(), v: 2 }));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/^invalid-job: v /);
  });

  it.each([
    ['an upper-case domain', 'to', ['owner@EXAMPLE.com'], 'to.0'],
    ['surrounding spaces', 'to', [' owner@example.com'], 'to.0'],
    ['an injected header', 'replyTo', 'a@x.com\r\nBcc: x@evil.com', 'replyTo'],
    ['a display name in the address', 'replyTo', 'Evil <a@x.com>', 'replyTo'],
    ['a unicode domain', 'to', ['owner@bücher.example'], 'to.0'],
    ['a list in one address', 'to', ['a@x.com, b@y.com'], 'to.0'],
  ])('rejects an address with %s', (_, key, value, path) => {
    const parsed = parseMailJob(body({ ...rawJob(), [key]: value }));
    expect(parsed).toEqual({ ok: false, reason: `invalid-job: ${path} is not a normalized address` });
  });

  it('rejects a from address that is not normalized', () => {
    const parsed = parseMailJob(body({ ...rawJob(), from: { address: 'No-Reply@Example.com' } }));
    expect(parsed).toEqual({ ok: false, reason: 'invalid-job: from.address is not a normalized address' });
  });

  it('reads an api job with cc, bcc, allow-listed headers and tags', () => {
    const job = {
      ...rawJob(),
      source: { kind: 'api', keyId: 'key_main' },
      cc: ['c@example.org'],
      bcc: ['b@example.org'],
      headers: { 'List-Unsubscribe': '<https://example.com/u>' },
      tags: [{ name: 'category', value: 'receipt' }],
    };
    expect(parseMailJob(body(job))).toEqual({ ok: true, job });
  });

  it.each([
    ['a header off the allow-list', { headers: { Bcc: 'x@example.org' } }, 'headers'],
    ['a header value with a line break', { headers: { 'X-Entity-Ref-ID': 'a\r\nBcc: x@e.org' } }, 'headers'],
    ['a tag with a space', { tags: [{ name: 'a b', value: 'c' }] }, 'tags'],
    [
      'more than 50 recipients across to, cc and bcc',
      { cc: Array.from({ length: 50 }, (_, i) => `c${i}@example.org`) },
      'to',
    ],
  ])('rejects %s', (_, change, path) => {
    const parsed = parseMailJob(body({ ...rawJob(), ...change }));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(new RegExp(`^invalid-job: ${path}[. ]`));
  });

  it('rejects an extra key at the top level', () => {
    const parsed = parseMailJob(body({ ...rawJob(), sender: 'x@evil.com' }));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/^invalid-job: \(root\) .*"sender"/);
  });

  it('rejects an extra key inside from', () => {
    const parsed = parseMailJob(
      body({ ...rawJob(), from: { address: 'no-reply@example.com', sender: 'x' } }),
    );
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/^invalid-job: from .*"sender"/);
  });

  it.each([
    ['a missing id', { id: undefined }, 'id'],
    ['an id that is not a UUID', { id: 'job-1' }, 'id'],
    ['no recipients', { to: [] }, 'to'],
    ['an empty subject', { subject: '' }, 'subject'],
    ['a createdAt that is not a timestamp', { createdAt: 'yesterday' }, 'createdAt'],
    ['another source kind', { source: { kind: 'newsletter', formId: 'contact' } }, 'source.kind'],
    ['an api source without a key id', { source: { kind: 'api', formId: 'contact' } }, 'source.keyId'],
  ])('rejects %s and names the field', (_, change, path) => {
    const parsed = parseMailJob(body({ ...rawJob(), ...change }));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(new RegExp(`^invalid-job: ${path.replace('.', '\\.')} `));
  });

  it('never quotes the rejected value in the reason', () => {
    const bad = parseMailJob(body({ ...rawJob(), to: ['Secret.Person@PRIVATE.example'] }));
    expect(bad).toEqual({ ok: false, reason: 'invalid-job: to.0 is not a normalized address' });
    expect(JSON.stringify(bad)).not.toContain('Secret.Person');
  });
});

describe('Core: serializeMailJob', () => {
  it('writes a job once, however often it is measured and sent', () => {
    const { job } = contactJob();
    const first = serializeMailJob(job);
    expect(serializeMailJob(job)).toBe(first);
    expect(JSON.parse(first)).toEqual(job);
  });
});
