import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTCHA_TOKEN_FIELD } from '../../functions/core/forms/captcha';
import { CaptchaProvider } from '../support/captcha-provider';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const SECRET = `secret-${randomUUID()}`;
const PROVIDERS = ['turnstile', 'hcaptcha', 'recaptcha-v2', 'recaptcha-v3'] as const;

describe('Captcha: server-side verification against a siteverify peer on loopback', () => {
  const provider = new CaptchaProvider(SECRET);
  let stack: TestStack;

  beforeAll(async () => {
    await provider.start();
    const form = (id: string, captcha: Record<string, unknown>) => ({
      id,
      recipients: ['owner@example.com'],
      subject: `Captcha ${id}`,
      allowedOrigins: ['http://127.0.0.1:3000'],
      captcha: { secret: 'postroom/captcha', verifyUrl: provider.url, timeoutMs: 500, ...captcha },
    });
    const config = testConfig({
      forms: [
        form('turnstile', { provider: 'turnstile', action: 'contact' }),
        form('hcaptcha', { provider: 'hcaptcha' }),
        form('recaptcha-v2', { provider: 'recaptcha-v2' }),
        form('recaptcha-v3', { provider: 'recaptcha-v3', minScore: 0.5, action: 'contact' }),
      ],
    });
    stack = await startTestStack(config, {
      captchaSecrets: Object.fromEntries(PROVIDERS.map((id) => [id, SECRET])),
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await provider.stop();
  });

  async function submit(
    formId: (typeof PROVIDERS)[number],
    token: string | undefined,
    marker = randomUUID(),
  ) {
    const fields: Record<string, string> = { email: 'visitor@example.org', message: `Captcha ${marker}` };
    if (token !== undefined) fields[CAPTCHA_TOKEN_FIELD[formId]] = token;
    const response = await fetch(`${stack.apiUrl}/v1/forms/${formId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fields),
    });
    return { status: response.status, headers: response.headers, marker };
  }

  const delivered = (marker: string) =>
    eventually(
      async () => (await stack.sesEmails()).find((e) => e.body.text?.includes(marker)),
      5_000,
      marker,
    );

  it.each(PROVIDERS)(
    '%s: accepts a good token, sends the secret and the client IP, and keeps the token out of the mail',
    async (formId) => {
      const token = `good:${randomUUID()}`;
      const { status, marker } = await submit(formId, token);

      expect(status).toBe(202);
      const email = await delivered(marker);
      expect(email.body.text).not.toContain(token);
      expect(provider.calls.find((c) => c.response === token)).toEqual({
        secret: SECRET,
        response: token,
        remoteip: '127.0.0.1',
      });
    },
  );

  it.each(PROVIDERS)('%s: refuses a missing token with 403 without asking the provider', async (formId) => {
    const before = provider.calls.length;
    expect((await submit(formId, undefined)).status).toBe(403);
    expect(provider.calls.length).toBe(before);
  });

  it.each([
    ['an invalid token', 'invalid'],
    ['a token issued on another hostname', 'wrong-host'],
  ])('refuses %s with 403', async (_, outcome) => {
    for (const formId of PROVIDERS)
      expect((await submit(formId, `${outcome}:${randomUUID()}`)).status).toBe(403);
  });

  it('refuses a replayed token that the provider refuses', async () => {
    const token = `good:${randomUUID()}`;
    expect((await submit('hcaptcha', token)).status).toBe(202);
    expect((await submit('hcaptcha', token)).status).toBe(403);
  });

  it('refuses a replayed token even when the provider would accept it again', async () => {
    const token = `lenient:${randomUUID()}`;
    expect((await submit('turnstile', token)).status).toBe(202);
    expect((await submit('turnstile', token)).status).toBe(403);
  });

  it('refuses a token for another action (Turnstile, reCAPTCHA v3)', async () => {
    expect((await submit('turnstile', `wrong-action:${randomUUID()}`)).status).toBe(403);
    expect((await submit('recaptcha-v3', `wrong-action:${randomUUID()}`)).status).toBe(403);
    // hCaptcha's form sets no action: the same answer passes there.
    expect((await submit('hcaptcha', `wrong-action:${randomUUID()}`)).status).toBe(202);
  });

  it('refuses a reCAPTCHA v3 score under the threshold', async () => {
    expect((await submit('recaptcha-v3', `low-score:${randomUUID()}`)).status).toBe(403);
  });

  it.each([
    ['times out', 'slow'],
    ['fails with 500', 'error'],
    ['answers something other than JSON', 'garbage'],
  ])('answers 503 with Retry-After when the verifier %s, and sends nothing', async (_, outcome) => {
    const { status, headers, marker } = await submit('turnstile', `${outcome}:${randomUUID()}`);

    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('5');
    await stack.drained(stack.resources.queueUrl);
    expect((await stack.sesEmails()).some((e) => e.body.text?.includes(marker))).toBe(false);
  });
});
