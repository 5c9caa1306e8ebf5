import { describe, expect, it } from 'vitest';
import type { FormConfig } from '../../functions/core/config/config';
import { type FieldError, ValidationError } from '../../functions/core/errors';
import type { SubmittedFields } from '../../functions/core/forms/form-body';
import {
  type FormSubmission,
  renderSubject,
  validateSubmission,
} from '../../functions/core/forms/form-submission';
import { shippedConfig } from '../fakes/config';

const config = shippedConfig();
const contact = config.forms[0] as FormConfig;
const form: FormConfig = { ...contact, maxExtraFields: 3, maxFieldLength: 300 };

const VALID: SubmittedFields = [
  ['email', 'visitor@example.org'],
  ['name', 'Vera Visitor'],
  ['message', 'Hello, I would like a quote.'],
];

function validationErrors(fields: SubmittedFields, on: FormConfig = form): ReadonlyArray<FieldError> {
  try {
    validateSubmission(fields, on);
  } catch (error) {
    if (error instanceof ValidationError) return error.errors ?? [];
    throw error;
  }
  throw new Error('expected a ValidationError');
}

function submission(overrides: Partial<FormSubmission> = {}): FormSubmission {
  return {
    email: { address: 'visitor@example.org', localPart: 'visitor', domain: 'example.org' },
    name: 'Vera Visitor',
    message: 'Hello',
    extra: [],
    honeypotFilled: false,
    ...overrides,
  };
}

describe('Core: validateSubmission', () => {
  it('accepts email, name and message and normalizes them', () => {
    // Act
    const result = validateSubmission(
      [
        ['email', ' Visitor@Example.ORG '],
        ['name', '  Vera Visitor  '],
        ['message', '\r\n  line one\r\nline two\rline three  \n'],
      ],
      form,
    );

    // Assess
    expect(result).toEqual({
      email: { address: 'Visitor@example.org', localPart: 'Visitor', domain: 'example.org' },
      name: 'Vera Visitor',
      message: 'line one\nline two\nline three',
      extra: [],
      honeypotFilled: false,
    });
  });

  it('treats a blank name as no name', () => {
    const result = validateSubmission([...VALID.filter(([n]) => n !== 'name'), ['name', '   ']], form);
    expect(result.name).toBeUndefined();
  });

  it('returns 422 naming email and message when both are missing', () => {
    const errors = validationErrors([['name', 'Vera']]);
    expect(errors).toEqual([
      { field: 'email', detail: 'is required' },
      { field: 'message', detail: 'is required' },
    ]);
  });

  it('returns 422 when the message is only whitespace', () => {
    const errors = validationErrors([
      ['email', 'visitor@example.org'],
      ['message', ' \r\n\t '],
    ]);
    expect(errors).toEqual([{ field: 'message', detail: 'is required' }]);
  });

  it('returns 422 when the email has two @', () => {
    const errors = validationErrors([
      ['email', 'visitor@example.org@evil.com'],
      ['message', 'Hi'],
    ]);
    expect(errors).toEqual([{ field: 'email', detail: 'must contain exactly one @' }]);
  });

  it('returns 422 when the email carries a header injection', () => {
    const errors = validationErrors([
      ['email', 'visitor@example.org\r\nBcc: x@evil.com'],
      ['message', 'Hi'],
    ]);
    expect(errors).toEqual([
      { field: 'email', detail: 'must not contain control characters (such as line breaks)' },
    ]);
  });

  it('returns 422 when a field is given twice, even if both values are valid', () => {
    const errors = validationErrors([...VALID, ['email', 'other@example.org']]);
    expect(errors).toEqual([{ field: 'email', detail: 'is given more than once' }]);
  });

  it.each([
    ['a line feed', 'Vera\nBcc: x@evil.com'],
    ['a carriage return', 'Vera\rVisitor'],
    ['a tab', 'Vera\tVisitor'],
    ['NUL', 'Vera\u0000'],
  ])('returns 422 when the name contains %s', (_, name) => {
    const errors = validationErrors([...VALID.filter(([n]) => n !== 'name'), ['name', name]]);
    expect(errors).toEqual([{ field: 'name', detail: 'must be a single line of text' }]);
  });

  it('returns 422 when the name is longer than 200 characters', () => {
    const errors = validationErrors([...VALID.filter(([n]) => n !== 'name'), ['name', 'N'.repeat(201)]]);
    expect(errors).toEqual([{ field: 'name', detail: 'must be at most 200 characters' }]);
  });

  it('returns 422 when the message contains a control character other than line breaks and tabs', () => {
    const errors = validationErrors([...VALID.filter(([n]) => n !== 'message'), ['message', 'Hi\u0007']]);
    expect(errors).toEqual([{ field: 'message', detail: 'must not contain control characters' }]);
  });

  it('returns 422 when any field is longer than the form allows', () => {
    const errors = validationErrors([
      ...VALID.filter(([n]) => n !== 'message'),
      ['message', 'm'.repeat(301)],
      ['company', 'c'.repeat(301)],
    ]);
    expect(errors).toEqual([
      { field: 'message', detail: 'must be at most 300 characters' },
      { field: 'company', detail: 'must be at most 300 characters' },
    ]);
  });

  describe('honeypot', () => {
    it('marks the submission when _gotcha is filled', () => {
      const result = validateSubmission([...VALID, ['_gotcha', 'http://spam.example']], form);
      expect(result.honeypotFilled).toBe(true);
    });

    it('does not mark the submission when _gotcha is empty or blank', () => {
      expect(validateSubmission([...VALID, ['_gotcha', '']], form).honeypotFilled).toBe(false);
      expect(validateSubmission([...VALID, ['_gotcha', '  ']], form).honeypotFilled).toBe(false);
    });

    it('keeps _gotcha out of the extra fields', () => {
      const result = validateSubmission([...VALID, ['_gotcha', 'bot']], form);
      expect(result.extra).toEqual([]);
    });
  });

  it('ignores other underscore fields: they never reach the mail', () => {
    const result = validateSubmission(
      [...VALID, ['_next', 'https://evil.example'], ['_subject', 'Bcc: x@evil.com'], ['_x', '\u0000']],
      form,
    );
    expect(result.extra).toEqual([]);
  });

  describe('extra fields', () => {
    it('keeps them in order, trimmed, with line breaks normalized, and drops blank ones', () => {
      const result = validateSubmission(
        [...VALID, ['company', ' ACME '], ['blank', '  '], ['Phone no.', '+1 555\r\n0100']],
        form,
      );
      expect(result.extra).toEqual([
        ['company', 'ACME'],
        ['Phone no.', '+1 555\n0100'],
      ]);
    });

    it('returns 422 when there are more than the form allows', () => {
      const errors = validationErrors([...VALID, ['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']]);
      expect(errors).toEqual([
        { field: '(body)', detail: 'has more than 3 fields besides email, name and message' },
      ]);
    });

    it('accepts exactly as many as the form allows', () => {
      const result = validateSubmission([...VALID, ['a', '1'], ['b', '2'], ['c', '3']], form);
      expect(result.extra).toHaveLength(3);
    });

    it.each([
      ['a colon', 'Bcc: x'],
      ['a line break', 'a\r\nb'],
      ['angle brackets', '<script>'],
      ['a leading dash', '-x'],
      ['65 characters', 'f'.repeat(65)],
    ])('returns 422 for a field name with %s', (_, name) => {
      const errors = validationErrors([...VALID, [name, 'value']]);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.detail).toBe(
        'field names must be 1-64 letters, digits, spaces, dots, dashes or underscores',
      );
    });

    it('echoes a bad field name printable and bounded', () => {
      const errors = validationErrors([...VALID, [`a\r\nb${'x'.repeat(100)}`, 'value']]);
      expect(errors[0]?.field).toBe(`a??b${'x'.repeat(60)}...`);
    });

    it('returns 422 for a control character in an extra value', () => {
      const errors = validationErrors([...VALID, ['company', 'ACME\u001b[31m']]);
      expect(errors).toEqual([{ field: 'company', detail: 'must not contain control characters' }]);
    });
  });

  it('reports every problem at once, each with its field', () => {
    // Act
    const errors = validationErrors([
      ['email', 'not-an-address'],
      ['name', 'Vera\nVisitor'],
      ['message', ''],
      ['bad:name', 'x'],
      ['company', 'ACME'],
      ['company', 'ACME again'],
    ]);

    // Assess
    expect(errors).toEqual([
      { field: 'email', detail: 'must contain exactly one @' },
      { field: 'name', detail: 'must be a single line of text' },
      {
        field: 'bad:name',
        detail: 'field names must be 1-64 letters, digits, spaces, dots, dashes or underscores',
      },
      { field: 'company', detail: 'is given more than once' },
      { field: 'message', detail: 'is required' },
    ]);
  });
});

describe('Core: renderSubject', () => {
  it('fills placeholders from name, email, message and extra fields', () => {
    const subject = renderSubject(
      '[{{ company }}] {{name}} <{{email}}>: {{message}}',
      submission({ extra: [['company', 'ACME']], message: 'Quote please' }),
    );
    expect(subject).toBe('[ACME] Vera Visitor <visitor@example.org>: Quote please');
  });

  it('leaves a placeholder empty when its field is missing', () => {
    expect(renderSubject('New message from {{name}} at {{company}}', submission({ name: undefined }))).toBe(
      'New message from at',
    );
  });

  it('falls back to a fixed subject when nothing is left', () => {
    expect(renderSubject('{{name}}', submission({ name: undefined }))).toBe('New form submission');
  });

  it('is one line even when a field has line breaks', () => {
    const subject = renderSubject(
      '{{message}}',
      submission({ message: 'Hi\r\nBcc: x@evil.com\n\nSubject: pwned\u2028end' }),
    );
    expect(subject).toBe('Hi Bcc: x@evil.com Subject: pwned end');
    expect(subject).not.toMatch(/[\r\n]/);
  });

  it('does not expand placeholders or replacement patterns found inside values', () => {
    const subject = renderSubject(
      '{{name}} / {{message}}',
      submission({ name: "$& $' {{email}}", message: '{{name}}' }),
    );
    expect(subject).toBe("$& $' {{email}} / {{name}}");
  });

  it('is at most 250 characters, cut at a code point boundary', () => {
    const subject = renderSubject('{{message}}', submission({ message: '😀'.repeat(400) }));
    expect([...subject]).toHaveLength(250);
    expect(subject).toBe('😀'.repeat(250));
  });

  it('does not end with a space when the cut at 250 characters falls on one', () => {
    // Prepare: the 250th character of the one-line subject is a space
    const message = `${'a'.repeat(249)} tail`;

    // Act
    const subject = renderSubject('{{message}}', submission({ message }));

    // Assess: mail parsers drop trailing blanks, so the reader would see another subject than the one rendered
    expect(subject).toBe('a'.repeat(249));
  });
});
