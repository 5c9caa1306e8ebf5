import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { findPlaceholders, isLoopbackHost, isReservedDomain } from '../../functions/core/config/placeholders';

const own = {
  sender: 'Acme <no-reply@mail.acme-widgets.com>',
  forms: [
    {
      id: 'contact',
      recipients: ['sales@acme-widgets.com'],
      subject: 'Hi {{name}}',
      allowedOrigins: ['https://www.acme-widgets.com'],
      redirectUrl: 'https://www.acme-widgets.com/thanks',
    },
  ],
};

describe('Config: placeholder values', () => {
  it('finds none in a configuration of real-looking values', () => {
    expect(findPlaceholders(parseConfig(own))).toEqual([]);
  });

  it('names each example address, loopback origin and page, the form by its id', () => {
    // Prepare
    const config = parseConfig({
      ...own,
      sender: 'no-reply@example.com',
      monitoring: { alarmEmail: 'ops@example.org' },
      forms: [
        own.forms[0],
        {
          id: 'support',
          recipients: ['help@acme-widgets.com', 'owner@sub.example.net'],
          subject: 'Hi',
          allowedOrigins: ['https://www.acme-widgets.com', 'http://127.0.0.1:3000'],
          redirectUrl: 'http://localhost:3000/thanks',
          allowedRedirects: ['https://shop.localhost/thanks'],
        },
      ],
    });

    // Act
    const found = findPlaceholders(config).map((p) => `${p.field} = ${p.value}`);

    // Assess
    expect(found).toEqual([
      'postroom.sender = no-reply@example.com',
      'postroom.monitoring.alarmEmail = ops@example.org',
      'postroom.forms["support"].recipients[1] = owner@sub.example.net',
      'postroom.forms["support"].allowedOrigins[1] = http://127.0.0.1:3000',
      'postroom.forms["support"].redirectUrl = http://localhost:3000/thanks',
      'postroom.forms["support"].allowedRedirects[0] = https://shop.localhost/thanks',
    ]);
  });

  it('tells reserved domains (RFC 2606) from look-alikes', () => {
    expect(
      ['example.com', 'mail.example.org', 'EXAMPLE.NET', 'shop.test', 'x.example', 'a.invalid'].every(
        isReservedDomain,
      ),
    ).toBe(true);
    expect(['example.co', 'myexample.com', 'example.com.au', 'examples.org'].some(isReservedDomain)).toBe(
      false,
    );
  });

  it('tells loopback hosts from others', () => {
    expect(
      ['localhost', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '0.0.0.0'].every(isLoopbackHost),
    ).toBe(true);
    expect(['localhost.com', '128.0.0.1', '10.0.0.1', 'www.acme-widgets.com'].some(isLoopbackHost)).toBe(
      false,
    );
  });
});
