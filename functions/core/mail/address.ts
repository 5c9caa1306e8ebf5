import { domainToASCII } from 'node:url';
import { uncarriableText } from './text';

/**
 * Address rules. Postroom accepts only plain `local@domain` addresses (RFC 5322 dot-atom), parses each
 * address once, and sends the parsed value. Everything RFC 5322 allows beyond that (comments, groups,
 * lists, quoted local parts, IP literals) is rejected: those are the forms behind the address-parser
 * confusion attacks reported against nodemailer in 2025 (mail sent to a different domain than the one
 * validated, and unbounded recursion on nested groups), and none of them is needed by a contact form.
 * SES has no SMTPUTF8, so a non-ASCII local part cannot be delivered; a non-ASCII domain is converted
 * to its punycode form.
 */

export const MAX_ADDRESS_LENGTH = 254; // RFC 5321 4.5.3.1.3: a path is at most 256 octets including < and >
const MAX_LOCAL_PART_LENGTH = 64; // RFC 5321 4.5.3.1.1
const MAX_MAILBOX_LENGTH = 320;
/** Longest display name of a configured sender; the MailJob schema holds the same limit. */
export const MAX_DISPLAY_NAME_LENGTH = 100;

export interface Address {
  /** The address as it is sent: local part as given, domain lowercased and in ASCII. */
  readonly address: string;
  readonly localPart: string;
  readonly domain: string;
}

export interface Mailbox {
  readonly name: string | undefined;
  readonly address: Address;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

// RFC 5322 3.2.3 atext.
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// Anything below space, and DEL: CR, LF and NUL among them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The start of an RFC 2047 encoded-word, `=?charset?Q|B?text?=`. RFC 2047 section 5 forbids encoded-words in
 * an addr-spec, but parsers that decode them anyway turn `=?utf-8?q?eve=40evil.example?=@example.com` into a
 * local part holding `eve@evil.example` and route the mail there ("Splitting the email atom", Gareth Heyes,
 * PortSwigger Research, 2024): Q and B encodings, UTF-7 (`+AEA-` is `@`, RFC 2152), any charset, with NUL or `>`
 * smuggled in to cut the address short. `=` and `?` are both atext (RFC 5322 3.2.3), so the dot-atom rule
 * alone lets them through; any `=?` is refused, partial and unterminated ones included, in any case.
 */
const ENCODED_WORD_START = /=\?/;
const ENCODED_WORD_REASON = 'must not contain an encoded-word (=?...?=): RFC 2047 forbids them in addresses';

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export function parseAddress(input: string): Parsed<Address> {
  // Bound the work before looking at the content.
  if (input.length > MAX_ADDRESS_LENGTH) return fail(`must be at most ${MAX_ADDRESS_LENGTH} characters`);
  if (CONTROL.test(input)) return fail('must not contain control characters (such as line breaks)');
  if (ENCODED_WORD_START.test(input)) return fail(ENCODED_WORD_REASON);
  const value = input.trim();
  // Most addresses are plain: one @ between atext, dots and domain characters. Those pass every check in
  // refuseShape, which is there to name what is wrong with the others.
  if (!PLAIN_ADDRESS.test(value)) {
    const refusal = refuseShape(value);
    if (refusal !== undefined) return fail(refusal);
  }
  const at = value.lastIndexOf('@');
  const localPart = value.slice(0, at);
  const rawDomain = value.slice(at + 1);

  if (localPart === '') return fail('must have a local part before the @');
  if (localPart.length > MAX_LOCAL_PART_LENGTH)
    return fail(`local part must be at most ${MAX_LOCAL_PART_LENGTH} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range check
  if (/[^\u0000-\u007f]/.test(localPart))
    return fail('local part must be ASCII (SES does not support SMTPUTF8)');
  if (!localPart.split('.').every((atom) => ATEXT.test(atom))) {
    return fail('local part has a character that is not allowed or a misplaced dot');
  }

  if (rawDomain.startsWith('[')) return fail('must not use an IP-literal domain');
  if (rawDomain === '') return fail('must have a domain after the @');
  const domain = asciiDomain(rawDomain.toLowerCase());
  if (domain === '' || domain.length > 253) return fail('must have a valid domain');
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label)))
    return fail('must have a valid domain');
  const tld = labels[labels.length - 1] ?? '';
  // A numeric top-level label is an IPv4 address in disguise (name@127.0.0.1).
  if (/^\d+$/.test(tld)) return fail('must not use an IP address as the domain');

  return { ok: true, value: { address: `${localPart}@${domain}`, localPart, domain } };
}

// RFC 5322 atext and dots, one @, then letters, digits, dots and hyphens.
const PLAIN_ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$/;

/** Why a trimmed address that is not plain is refused before its parts are looked at, if it is. */
function refuseShape(value: string): string | undefined {
  if (value === '') return 'must be an email address';
  if (/[()]/.test(value)) return 'must not contain comments (parentheses)';
  if (/[:;]/.test(value)) return 'must be a single address, not a group';
  if (value.includes(',')) return 'must be a single address, not a list';
  if (value.includes('"')) return 'must not have a quoted local part';
  if (/[<>]/.test(value)) return 'must be a bare address such as name@example.com, without < >';
  if (/\s/.test(value)) return 'must not contain spaces';
  const at = value.lastIndexOf('@');
  if (at < 0 || value.indexOf('@') !== at) return 'must contain exactly one @';
  // Characters that Unicode compatibility normalization turns into @ (U+FF20 FULLWIDTH COMMERCIAL AT,
  // U+FE6B SMALL COMMERCIAL AT): a parser or a mailbox store that applies NFKC sees a second @.
  if (value.normalize('NFKC').split('@').length !== 2)
    return 'must contain exactly one @ (characters such as ＠ and ﹫ count as @)';
  return undefined;
}

// Letters, digits, dots and hyphens, with a top-level label that starts with a letter: the domain most
// addresses have, which UTS 46 maps to itself. A label starting `xn--` must be checked as punycode, and a
// numeric or `0x` last label makes the WHATWG host parser read an IPv4 address, so both take the full path.
const PLAIN_DOMAIN = /^(?!xn--)(?:[a-z0-9-]+\.(?!xn--))+[a-z][a-z0-9-]*$/;

/** The domain in ASCII (punycode), or '' when it is not a valid domain name. */
export function asciiDomain(lowercased: string): string {
  return PLAIN_DOMAIN.test(lowercased) ? lowercased : domainToASCII(lowercased);
}

/**
 * Parses `Display Name <local@domain>` or a bare address. Used for configured senders; the display name
 * may not contain characters with a meaning in address headers, so it cannot smuggle in a second address.
 */
export function parseMailbox(input: string): Parsed<Mailbox> {
  if (input.length > MAX_MAILBOX_LENGTH) return fail(`must be at most ${MAX_MAILBOX_LENGTH} characters`);
  if (CONTROL.test(input)) return fail('must not contain control characters (such as line breaks)');
  const match = /^([^<>]*)<([^<>]*)>$/.exec(input.trim());
  if (!match) {
    const bare = parseAddress(input);
    return bare.ok ? { ok: true, value: { name: undefined, address: bare.value } } : bare;
  }
  const name = (match[1] ?? '').trim();
  if (name.length > MAX_DISPLAY_NAME_LENGTH)
    return fail(`display name must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`);
  if (/["()<>[\]:;@\\,]/.test(name))
    return fail('display name must not contain any of " ( ) < > [ ] : ; @ \\ ,');
  // Postroom encodes a display name itself; one already encoded would be decoded by the reader into
  // characters this check never saw (a second address, a line break).
  if (ENCODED_WORD_START.test(name))
    return fail('display name must not contain an encoded-word (=?...?=): give the text itself');
  const uncarriable = uncarriableText(name);
  if (uncarriable !== undefined) return fail(`display name ${uncarriable}`);
  const address = parseAddress(match[2] ?? '');
  if (!address.ok) return address;
  return { ok: true, value: { name: name === '' ? undefined : name, address: address.value } };
}

/** `jane.doe@example.com` becomes `j***@example.com`: enough to tell mails apart in logs, not to harvest. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address.slice(0, 1)}***${address.slice(at)}`;
}
