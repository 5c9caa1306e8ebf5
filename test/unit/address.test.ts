import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { maskAddress, parseAddress, parseMailbox } from '../../functions/core/mail/address';

function accepted(input: string): string {
  const parsed = parseAddress(input);
  if (!parsed.ok) throw new Error(`expected ${JSON.stringify(input)} to be accepted: ${parsed.reason}`);
  return parsed.value.address;
}

function rejection(input: string): string {
  const parsed = parseAddress(input);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return parsed.reason;
}

describe('Core: parseAddress', () => {
  it.each([
    ['jane@example.com', 'jane@example.com'],
    ['jane.doe+newsletter@example.com', 'jane.doe+newsletter@example.com'],
    ['ops@mail.eu.example.co.uk', 'ops@mail.eu.example.co.uk'],
    ["o'neil&sons{x}~!#$%^*?=`|/_-@example.com", "o'neil&sons{x}~!#$%^*?=`|/_-@example.com"],
    // `=` and `?` apart are plain atext, and UTF-7 text outside an encoded-word is not decoded by anyone.
    ['a=b?c@example.com', 'a=b?c@example.com'],
    ['jane+AEA-evil.com@example.com', 'jane+AEA-evil.com@example.com'],
    ['  spaced@example.com  ', 'spaced@example.com'],
  ])('accepts %j as %j', (input, expected) => {
    expect(accepted(input)).toBe(expected);
  });

  it('lowercases the domain and keeps the local part as given', () => {
    // Act
    const parsed = parseAddress('Jane.Doe@Example.COM');

    // Assess
    expect(parsed).toEqual({
      ok: true,
      value: { address: 'Jane.Doe@example.com', localPart: 'Jane.Doe', domain: 'example.com' },
    });
  });

  it('converts an internationalized domain to punycode', () => {
    expect(accepted('kontakt@Bücher.Example')).toBe('kontakt@xn--bcher-kva.example');
    expect(accepted('info@münchen.de')).toBe('info@xn--mnchen-3ya.de');
  });

  it('accepts an address of exactly 254 characters', () => {
    const address = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(address).toHaveLength(254);
    expect(accepted(address)).toBe(address);
  });

  it('rejects 255 characters before looking at the content', () => {
    const address = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`;
    expect(address).toHaveLength(255);
    expect(rejection(address)).toBe('must be at most 254 characters');
  });

  it('rejects a 100 kB string quickly', () => {
    // Prepare: input that would be expensive for a parser that looks at it before bounding it
    const huge = `${'g:'.repeat(25_000)}a@x.com${';'.repeat(50_000)}`;

    // Act
    const started = performance.now();
    const reason = rejection(huge);
    const elapsed = performance.now() - started;

    // Assess
    expect(reason).toBe('must be at most 254 characters');
    expect(elapsed).toBeLessThan(50);
  });

  it.each([
    ['a line feed', 'jane@example.com\nBcc: x@evil.com'],
    ['a carriage return', 'jane@example.com\r'],
    ['CRLF', 'jane\r\n@example.com'],
    ['NUL', 'jane\u0000@example.com'],
    ['a tab', 'jane\t@example.com'],
    ['DEL', 'jane\u007f@example.com'],
  ])('rejects %s', (_, input) => {
    expect(rejection(input)).toBe('must not contain control characters (such as line breaks)');
  });

  it.each([
    ['a(b)@x.com', 'must not contain comments (parentheses)'],
    ['a@x.com (Jane)', 'must not contain comments (parentheses)'],
    ['g: a@x.com;', 'must be a single address, not a group'],
    ['a@x.com;', 'must be a single address, not a group'],
    ['a@x.com, b@y.com', 'must be a single address, not a list'],
    ['"a b"@x.com', 'must not have a quoted local part'],
    ['"a"@x.com', 'must not have a quoted local part'],
    ['<a@x.com>', 'must be a bare address such as name@example.com, without < >'],
    ['a b@x.com', 'must not contain spaces'],
    ['a@[127.0.0.1]', 'must not use an IP-literal domain'],
    ['a@[IPv6::1]', 'must be a single address, not a group'],
    ['a@127.0.0.1', 'must not use an IP address as the domain'],
    ['a@0x7f.0x1', 'must not use an IP address as the domain'],
    ['a@0177.0.0.01', 'must not use an IP address as the domain'],
    ['josé@example.com', 'local part must be ASCII (SES does not support SMTPUTF8)'],
    ['jane.example.com', 'must contain exactly one @'],
    ['a@b@example.com', 'must contain exactly one @'],
    ['@example.com', 'must have a local part before the @'],
    ['jane@', 'must have a domain after the @'],
    ['', 'must be an email address'],
    ['   ', 'must be an email address'],
    [`${'a'.repeat(65)}@x.com`, 'local part must be at most 64 characters'],
    ['.jane@x.com', 'local part has a character that is not allowed or a misplaced dot'],
    ['jane.@x.com', 'local part has a character that is not allowed or a misplaced dot'],
    ['ja..ne@x.com', 'local part has a character that is not allowed or a misplaced dot'],
    ['ja\\ne@x.com', 'local part has a character that is not allowed or a misplaced dot'],
    ['jane@localhost', 'must have a valid domain'],
    ['jane@-example.com', 'must have a valid domain'],
    ['jane@example-.com', 'must have a valid domain'],
    ['jane@exa_mple.com', 'must have a valid domain'],
    ['jane@example..com', 'must have a valid domain'],
    ['jane@example.com.', 'must have a valid domain'],
  ])('rejects %j: %s', (input, reason) => {
    expect(rejection(input)).toBe(reason);
  });

  describe('nodemailer 2025 address-parser advisory inputs', () => {
    it.each([
      // A quoted local part that contains a full address: a lenient parser sends to gmail.com.
      '"xclow3n@gmail.com x"@internal.domain',
      '"xclow3n@gmail.com"@internal.domain',
      // Two @: which domain is validated and which one receives the mail differs between parsers.
      'a@x.com@y.com',
      'attacker@evil.com@internal.domain',
      // Address hidden in a display name or a comment.
      'a@x.com <b@y.com>',
      'victim@internal.domain(attacker@evil.com)',
      // Groups, single and nested.
      'g: attacker@evil.com;',
      `${'g:'.repeat(5000)}a@x.com`,
      `${'g:'.repeat(100)}a@x.com${';'.repeat(100)}`,
    ])('rejects %j', (input) => {
      expect(parseAddress(input).ok).toBe(false);
    });
  });
});

describe('Core: parseMailbox', () => {
  it('parses a display name and an address', () => {
    expect(parseMailbox('Postroom <No-Reply@Example.COM>')).toEqual({
      ok: true,
      value: {
        name: 'Postroom',
        address: { address: 'No-Reply@example.com', localPart: 'No-Reply', domain: 'example.com' },
      },
    });
  });

  it('accepts a bare address with no name', () => {
    const parsed = parseMailbox('no-reply@example.com');
    expect(parsed.ok && parsed.value).toEqual({
      name: undefined,
      address: { address: 'no-reply@example.com', localPart: 'no-reply', domain: 'example.com' },
    });
  });

  it('treats an empty display name as no name', () => {
    const parsed = parseMailbox(' <no-reply@example.com>');
    expect(parsed.ok && parsed.value.name).toBeUndefined();
    expect(parsed.ok && parsed.value.address.address).toBe('no-reply@example.com');
  });

  it('keeps a non-ASCII display name', () => {
    const parsed = parseMailbox('Zoë Café <hello@example.com>');
    expect(parsed.ok && parsed.value.name).toBe('Zoë Café');
  });

  it.each([
    ['"Evil" <a@x.com>'],
    ['a@x.com <b@y.com>'],
    ['Sales, Support <a@x.com>'],
    ['Evil (admin) <a@x.com>'],
    ['Team: <a@x.com>'],
    ['Back\\slash <a@x.com>'],
    ['[ops] <a@x.com>'],
  ])('rejects the display-name trick %j', (input) => {
    expect(parseMailbox(input)).toEqual({
      ok: false,
      reason: 'display name must not contain any of " ( ) < > [ ] : ; @ \\ ,',
    });
  });

  it.each([
    ['two angle addresses', 'A <a@x.com> <b@y.com>'],
    ['a bad address inside the brackets', 'Jane <a@x.com@y.com>'],
    ['an unclosed bracket', 'Jane <a@x.com'],
    ['a line break in the name', 'Jane\r\nBcc: x@evil.com <a@x.com>'],
    ['more than 320 characters', `${'N'.repeat(311)} <a@x.com>`],
    ['a nested group of 5000 levels', `${'g:'.repeat(5000)}a@x.com`],
  ])('rejects %s', (_, input) => {
    expect(parseMailbox(input).ok).toBe(false);
  });
});

/**
 * "Splitting the email atom" (Gareth Heyes, PortSwigger Research, 2024): an RFC 2047 encoded-word in an
 * address, which RFC 2047 section 5 forbids, is decoded by some parsers into characters the validator never
 * saw: an @ and another domain, a `>` or a NUL that ends the address early.
 */
const ENCODED_WORD_ADDRESSES: ReadonlyArray<readonly [string, string]> = [
  ['Q, @ as =40', '=?utf-8?q?attacker=40evil.example?=@example.com'],
  ['Q, upper case', '=?UTF-8?Q?attacker=40evil.example?=@example.com'],
  ['Q, mixed case', '=?Utf-8?Q?attacker=40evil.example?=@example.com'],
  ['B, @ and > in base64', '=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxlPg==?=@example.com'],
  ['B, upper case', '=?UTF-8?B?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=@example.com'],
  ['another charset', '=?iso-8859-1?q?attacker=40evil.example?=@example.com'],
  ['UTF-7', '=?utf-7?q?attacker+AEA-evil.example?=@example.com'],
  ['UTF-7 with > as +AD4-', '=?utf-7?q?attacker+AEA-evil.example+AD4-?=@example.com'],
  ['a language tag (RFC 2231)', '=?utf-8*en?q?attacker=40evil.example?=@example.com'],
  ['NUL smuggled after the @', '=?utf-8?q?attacker=40evil.example=00?=@example.com'],
  ['> smuggled to close the address', '=?utf-8?q?attacker=40evil.example=3e?=@example.com'],
  ['CR LF smuggled', '=?utf-8?q?x=0d=0abcc=3aattacker=40evil.example?=@example.com'],
  ['partially encoded', 'jane=?utf-8?q?=40evil.example?=@example.com'],
  ['an encoded-word after plain text', 'jane.=?x?q?=40?=evil.example@example.com'],
  ['two encoded-words', '=?x?q?attacker?==?x?q?=40evil.example?=@example.com'],
  ['unterminated', '=?utf-8?q?attacker=40evil.example@example.com'],
  ['only the opening', 'jane=?@example.com'],
  ['empty encoded text', '=?utf-8?q??=@example.com'],
  ['in the domain', 'jane@=?utf-8?q?evil.example?='],
  ['in a domain label', 'jane@x=?utf-8?q?=2e?=evil.example'],
  ['surrounded by spaces', '  =?utf-8?q?attacker=40evil.example?=@example.com  '],
];

describe('Core: parseAddress refuses encoded-words', () => {
  it.each(ENCODED_WORD_ADDRESSES)('rejects %s: %j', (_, input) => {
    expect(rejection(input)).toBe(
      'must not contain an encoded-word (=?...?=): RFC 2047 forbids them in addresses',
    );
  });

  it.each([
    ['FULLWIDTH COMMERCIAL AT in the local part', 'attacker\uff20evil.example@example.com'],
    ['FULLWIDTH COMMERCIAL AT in the domain', 'jane@evil.example\uff20example.com'],
    ['SMALL COMMERCIAL AT in the domain', 'jane@evil.example\ufe6bexample.com'],
  ])('rejects %s, which normalizes to a second @', (_, input) => {
    expect(rejection(input)).toBe('must contain exactly one @ (characters such as ＠ and ﹫ count as @)');
  });

  it('rejects a fullwidth @ standing for the only @', () => {
    expect(parseAddress('jane\uff20example.com').ok).toBe(false);
  });

  it.each([
    ['Q', 'Jane =?utf-8?q?=3Cattacker=40evil.example=3E?= <jane@example.com>'],
    ['B', '=?utf-8?b?QWRtaW4=?= <jane@example.com>'],
  ])('rejects a %s encoded-word in a display name: Postroom encodes names itself', (_, input) => {
    expect(parseMailbox(input)).toEqual({
      ok: false,
      reason: 'display name must not contain an encoded-word (=?...?=): give the text itself',
    });
  });

  it('rejects an encoded-word in the address of a mailbox', () => {
    expect(parseMailbox('Jane <=?utf-8?q?attacker=40evil.example?=@example.com>')).toEqual({
      ok: false,
      reason: 'must not contain an encoded-word (=?...?=): RFC 2047 forbids them in addresses',
    });
  });

  it("stops what Python's email package does with them: decode the local part into another address", () => {
    // Prepare: a Reply-To header with each address, read by an independent, widely used MIME parser
    const addresses = ENCODED_WORD_ADDRESSES.slice(0, 6).map(([, address]) => address);
    const script = [
      'import json, sys',
      'from email import message_from_string, policy',
      'out = []',
      'for a in json.load(sys.stdin):',
      '    m = message_from_string("Reply-To: " + a + "\\r\\n\\r\\nx", policy=policy.default)',
      '    out.append([x.username for x in m["Reply-To"].addresses])',
      'print(json.dumps(out))',
    ].join('\n');

    // Act
    const decoded = JSON.parse(
      execFileSync('python3', ['-c', script], { input: JSON.stringify(addresses), encoding: 'utf8' }),
    ) as string[][];

    // Assess: the parser hands on a local part holding a whole address at evil.example, which a later
    // hop can take for the recipient; parseAddress refuses every one of them first.
    for (const [i, usernames] of decoded.entries()) {
      expect(usernames[0]).toMatch(/^attacker@evil\.example>?$/);
      expect(parseAddress(addresses[i] as string).ok).toBe(false);
    }
  });
});

describe('Core: maskAddress', () => {
  it('keeps the first character and the domain', () => {
    expect(maskAddress('jane.doe@example.com')).toBe('j***@example.com');
  });

  it('hides the local part entirely when there is no @ or nothing before it', () => {
    expect(maskAddress('no-at-sign')).toBe('***');
    expect(maskAddress('@example.com')).toBe('***');
  });
});
