import type { PostroomConfig } from './config';

/**
 * Values in a configuration that only make sense as examples or on this machine: addresses at the domains
 * reserved for documentation (RFC 2606: example.com, example.net, example.org, and the .example, .test,
 * .invalid and .localhost names), and origins or thank-you pages on loopback. The shipped cdk.json has them
 * so `npm start` works at once; deployed, mail to them goes nowhere and browsers on the real site are refused.
 * https://www.rfc-editor.org/rfc/rfc2606
 */
export interface Placeholder {
  /** The field as the configuration names it, a form by its id: `postroom.forms["contact"].recipients[0]`. */
  readonly field: string;
  readonly value: string;
  /** Why it cannot be deployed as it is. */
  readonly reason: string;
}

const RESERVED_DOMAINS = ['example.com', 'example.net', 'example.org'];
const RESERVED_TLDS = ['example', 'test', 'invalid', 'localhost'];

/** A domain reserved for examples (RFC 2606), or a subdomain of one. */
export function isReservedDomain(domain: string): boolean {
  const name = domain.toLowerCase().replace(/\.$/, '');
  if (RESERVED_DOMAINS.some((d) => name === d || name.endsWith(`.${d}`))) return true;
  const tld = name.slice(name.lastIndexOf('.') + 1);
  return RESERVED_TLDS.includes(tld);
}

/** A host only this machine reaches: localhost, *.localhost, 127.0.0.0/8, ::1, 0.0.0.0. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    name === '::1' ||
    name === '0.0.0.0'
  );
}

function addressPlaceholder(field: string, address: string): Placeholder[] {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return isReservedDomain(domain)
    ? [
        {
          field,
          value: address,
          reason: `${domain} is reserved for examples: mail to or from it goes nowhere`,
        },
      ]
    : [];
}

function urlPlaceholder(field: string, url: string): Placeholder[] {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return [];
  }
  if (isLoopbackHost(host)) {
    return [{ field, value: url, reason: `${host} is this machine: visitors' browsers cannot be on it` }];
  }
  return isReservedDomain(host)
    ? [{ field, value: url, reason: `${host} is reserved for examples: no real site is served from it` }]
    : [];
}

/** Every placeholder value in a validated configuration, in the order the fields appear. */
export function findPlaceholders(config: PostroomConfig): Placeholder[] {
  const found: Placeholder[] = [...addressPlaceholder('postroom.sender', config.sender.address)];
  if (config.transport.kind === 'ses' && config.transport.domainIdentity !== undefined) {
    const domain = config.transport.domainIdentity;
    if (isReservedDomain(domain)) {
      found.push({
        field: 'postroom.transport.domainIdentity',
        value: domain,
        reason: `${domain} is reserved for examples: its DNS records cannot be published`,
      });
    }
  }
  if (config.monitoring.alarmEmail !== undefined) {
    found.push(...addressPlaceholder('postroom.monitoring.alarmEmail', config.monitoring.alarmEmail));
  }
  for (const form of config.forms) {
    const at = `postroom.forms["${form.id}"]`;
    form.recipients.forEach((r, i) => {
      found.push(...addressPlaceholder(`${at}.recipients[${i}]`, r));
    });
    form.allowedOrigins.forEach((o, i) => {
      found.push(...urlPlaceholder(`${at}.allowedOrigins[${i}]`, o));
    });
    if (form.redirectUrl !== undefined) found.push(...urlPlaceholder(`${at}.redirectUrl`, form.redirectUrl));
    form.allowedRedirects.forEach((u, i) => {
      found.push(...urlPlaceholder(`${at}.allowedRedirects[${i}]`, u));
    });
  }
  return found;
}
