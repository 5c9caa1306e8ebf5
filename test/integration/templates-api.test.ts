import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusChange } from '../../functions/core/messages';
import { compileTemplates } from '../../infra/templates';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { PostfixPeer, postfixSupport } from '../support/postfix';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
const VERSIONS = new Map(compileTemplates().map((source) => [source.id, source.version]));

function client(stack: () => TestStack) {
  const post = (path: string, body: unknown) =>
    fetch(`${stack().apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body),
    });
  return {
    post,
    async status(id: string) {
      const response = await fetch(`${stack().apiUrl}/v1/messages/${id}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      return (await response.json()) as { status: string; history: StatusChange[] };
    },
  };
}

describe('Templates through the local stack (dynalite, fauxqs, SES emulator)', () => {
  let stack: TestStack;
  const api = client(() => stack);

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('sends a templated mail rendered in the send function; the status names the template and version', async () => {
    // Act
    const marker = randomUUID().slice(0, 8);
    const response = await api.post('/v1/send', {
      from: 'Accounts <accounts@example.com>',
      to: 'ada@example.org',
      template: {
        id: 'password-reset',
        variables: { name: `Ada <${marker}>`, resetUrl: `https://example.com/reset/${marker}` },
      },
    });

    // Assess
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const email = await eventually(
      async () => (await stack.sesEmails()).find((mail) => mail.body.text?.includes(marker)),
      10_000,
    );
    expect(email.subject).toBe('Reset your password');
    expect(email.body.text).toContain(`Hello Ada <${marker}>,`);
    expect(email.body.text).toContain('works for 30 minutes');
    expect(email.body.html).toContain(`Hello Ada &lt;${marker}&gt;,`);
    expect(email.body.html).toContain(`href="https://example.com/reset/${marker}"`);
    const record = await api.status(id);
    expect(record.history[0]).toMatchObject({
      status: 'queued',
      detail: `template password-reset@${VERSIONS.get('password-reset')}`,
    });
  });

  it('answers 422 for an unknown template or bad variables and queues nothing', async () => {
    // Act
    const before = (await stack.sesEmails()).length;
    const unknown = await api.post('/v1/send', {
      from: 'accounts@example.com',
      to: 'ada@example.org',
      template: { id: 'no-such-template', variables: {} },
    });
    const bad = await api.post('/v1/send', {
      from: 'accounts@example.com',
      to: 'ada@example.org',
      template: { id: 'welcome', variables: { name: ['Ada'] } },
    });

    // Assess
    expect(unknown.status).toBe(422);
    expect(
      ((await unknown.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field),
    ).toEqual(['template.id']);
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual([
      'template.variables.name',
      'template.variables.actionUrl',
    ]);
    await stack.drained(stack.resources.queueUrl);
    expect((await stack.sesEmails()).length).toBe(before);
  });

  it('delivers a form submission as the designed form-notification, with a text and an HTML part', async () => {
    // Act
    const marker = randomUUID().slice(0, 8);
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        name: `Ada ${marker}`,
        email: 'ada@example.org',
        company: 'Engines & <Co>',
        message: `First line ${marker}\nSecond line`,
      }),
    });

    // Assess
    expect(response.status).toBe(202);
    const email = await eventually(
      async () => (await stack.sesEmails()).find((mail) => mail.subject === `New message from Ada ${marker}`),
      10_000,
    );
    expect(email.replyTo).toEqual(['ada@example.org']);
    expect(email.body.text).toContain(
      `Company: Engines & <Co>\nMessage:\nFirst line ${marker}\nSecond line\n`,
    );
    expect(email.body.text).toContain('Reply to this mail to answer ada@example.org.');
    expect(email.body.html).toMatch(
      /<div class="label"[^>]*>Company<\/div>\s*<div class="value"[^>]*>Engines &amp; &lt;Co&gt;<\/div>/,
    );
    expect(email.body.html).toContain(`First line ${marker}\nSecond line`);
  });

  it('renders without sending at POST /v1/templates/{id}/render', async () => {
    const response = await api.post('/v1/templates/receipt/render', {
      variables: {
        name: 'Ada',
        total: '€3.00',
        items: [{ description: 'Tea', quantity: 3, amount: '€3.00' }],
      },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, string>;
    expect(body.subject).toBe('Your receipt');
    expect(body.version).toBe(VERSIONS.get('receipt'));
    expect(body.text).toContain('- Tea x 3: €3.00');
    expect(body.html).toContain('<td align="left"');
  });
});

const support = postfixSupport();

describe.skipIf(!support.ok)(
  `A templated mail through Postfix${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  { timeout: 60_000 },
  () => {
    const peer = new PostfixPeer();
    const inbox = peer.mailbox('inbox');
    const owner = peer.mailbox('owner');
    let stack: TestStack;
    const api = client(() => stack);

    beforeAll(async () => {
      await peer.start();
      const config = testConfig({ transport: peer.transportConfig() });
      const forms = config.forms.map((form) => ({ ...form, recipients: [owner] }));
      stack = await startTestStack(
        { ...config, forms },
        {
          smtpPassword: peer.password,
          apiKey: API_KEY,
        },
      );
    }, 600_000);

    afterAll(async () => {
      await stack?.stop();
      await peer.stop();
    });

    it('parses with no defect under policy.strict, as multipart/alternative with a text and an HTML part', async () => {
      // Act
      const marker = randomUUID().slice(0, 8);
      const response = await api.post('/v1/send', {
        from: 'no-reply@example.com',
        to: inbox,
        template: {
          id: 'receipt',
          variables: {
            name: `Ada ${marker}`,
            total: '€42.00',
            items: [{ description: 'Café crème "grand" & <b>', quantity: 2, amount: '€9.00' }],
          },
        },
      });
      expect(response.status).toBe(202);

      // Assess
      const [mail] = await peer.waitFor(inbox, marker);
      expect(mail?.defects).toEqual([]);
      const contentType = mail?.headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1];
      expect(contentType).toMatch(/^multipart\/alternative/);
      expect(mail?.parts.map((part) => part.contentType)).toEqual(['text/plain', 'text/html']);
      expect(mail?.parts[0]?.text).toContain('- Café crème "grand" & <b> x 2: €9.00');
      expect(mail?.parts[1]?.text).toContain('Café crème &quot;grand&quot; &amp; &lt;b&gt;');
    });

    it('delivers a form notification that parses with no defect, multipart/alternative with both parts', async () => {
      // Act: values that test the escaping and the header: quotes, angle brackets, a header-like line, Unicode.
      const marker = randomUUID().slice(0, 8);
      const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          name: `Zoë "Z" ${marker}`,
          email: 'zoe@example.org',
          phone: '+44 20 7946 0018',
          message: `Grüße <b>bold</b>\r\nBcc: victim@example.org\r\n\r\nLast line ${marker}`,
        }).toString(),
      });
      expect(response.status).toBe(202);

      // Assess
      const [mail] = await peer.waitFor(owner, marker);
      expect(mail?.defects).toEqual([]);
      const header = (name: string) => mail?.headers.filter(([key]) => key.toLowerCase() === name);
      expect(header('content-type')?.[0]?.[1]).toMatch(/^multipart\/alternative/);
      expect(header('subject')).toEqual([['Subject', `New message from Zoë "Z" ${marker}`]]);
      expect(header('reply-to')).toEqual([['Reply-To', 'zoe@example.org']]);
      expect(header('bcc')).toEqual([]);
      expect(mail?.parts.map((part) => part.contentType)).toEqual(['text/plain', 'text/html']);
      const [text, html] = [mail?.parts[0]?.text ?? '', mail?.parts[1]?.text ?? ''];
      expect(text).toContain(
        `Phone: +44 20 7946 0018\nMessage:\nGrüße <b>bold</b>\nBcc: victim@example.org\n\nLast line ${marker}\n`,
      );
      expect(html).toContain(`Grüße &lt;b&gt;bold&lt;/b&gt;\nBcc: victim@example.org\n\nLast line ${marker}`);
      expect(html).toContain(`Zoë &quot;Z&quot; ${marker}`);
      expect(html).not.toContain('<b>bold');
    });
  },
);
