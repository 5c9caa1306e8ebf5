import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildApiMailJob,
  sendRequestSchema,
  validateSendRequest,
} from '../../functions/core/api/send-request';
import type { FormConfig } from '../../functions/core/config/config';
import { ValidationError } from '../../functions/core/errors';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import { validateSubmission } from '../../functions/core/forms/form-submission';
import { composeMail } from '../../functions/core/mail/mime';
import type { CompiledTemplates } from '../../functions/core/templates/catalog';
import { renderReference } from '../../functions/core/templates/render-request';
import { CREATED_AT, configWith, JOB_ID, shippedConfig } from '../fakes/config';
import { shippedTemplates, shippedTemplatesNow } from '../support/templates';

/** Any text a variable accepts, with the characters that matter here over-represented. */
const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      '<',
      '>',
      '"',
      "'",
      '&',
      '`',
      '=',
      '\r',
      '\n',
      '\r\n',
      ' ',
      'Bcc: x@evil.test',
      '{{',
      'a',
    ),
    maxLength: 30,
  }),
);

/** The characters that open or close markup: an escaped value adds none of them to the HTML. */
function markupCounts(html: string) {
  return ['<', '>', '"', "'", '`'].map((char) => html.split(char).length - 1);
}

describe('Templates: properties over any variable values', () => {
  let templates: CompiledTemplates;
  const config = shippedConfig();
  const schema = sendRequestSchema(config);

  beforeAll(async () => {
    templates = await shippedTemplates();
  });

  function render(id: string, variables: Record<string, unknown>) {
    const result = renderReference(templates, { id, variables });
    return result.ok ? result.rendered : undefined;
  }

  it('no value breaks out of escaping in the HTML: it adds no tag, quote or attribute', () => {
    const baseline = markupCounts(render('welcome', { name: 'x', actionUrl: 'y' })?.html ?? '');
    fc.assert(
      fc.property(value, value, (name, actionUrl) => {
        const rendered = render('welcome', { name, actionUrl });
        if (rendered === undefined) return; // refused by the variable check (control characters)
        expect(markupCounts(rendered.html)).toEqual(baseline);
      }),
      { numRuns: 300 },
    );
  });

  it('no value adds a header: the composed mail has the same headers, and one Subject line', async () => {
    const headerNames = async (name: string) => {
      const validated = validateSendRequest(schema, {
        from: 'billing@example.com',
        to: 'customer@example.org',
        template: { id: 'welcome', variables: { name, actionUrl: 'https://example.com' } },
      });
      const rendered = render('welcome', { name, actionUrl: 'https://example.com' });
      if (!validated.ok || rendered === undefined) return undefined;
      const job = buildApiMailJob(
        validated.request,
        { id: JOB_ID, createdAt: CREATED_AT, keyId: 'k' },
        [],
        rendered,
      );
      const raw = (await composeMail(job)).raw.toString('latin1');
      const block = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n(?=[ \t])/g, '');
      return {
        names: block.split('\r\n').map((line) => line.slice(0, line.indexOf(':')).toLowerCase()),
        rendered,
      };
    };
    const baseline = (await headerNames('x'))?.names.filter((name) => name !== 'date').sort();
    await fc.assert(
      fc.asyncProperty(value, async (name) => {
        const composed = await headerNames(name);
        if (composed === undefined) return;
        expect(composed.rendered.subject).not.toMatch(/[\r\n]/);
        // Not HTML-escaped: the subject reads as written (SendGrid's `C&amp;A` is the bug avoided).
        expect(composed.rendered.subject).toBe(`Welcome, ${name.replace(/[\r\n]+/g, ' ')}`.trim());
        expect(composed.names.filter((header) => header !== 'date').sort()).toEqual(baseline);
      }),
      { numRuns: 150 },
    );
  });

  it('the text part never contains HTML tags, and is not HTML-escaped', () => {
    const noTags = fc.string({
      unit: fc.constantFrom('a', 'B', '&', '"', "'", ' ', '\n', '>', '€'),
      maxLength: 20,
    });
    fc.assert(
      fc.property(noTags, noTags, fc.integer({ min: 0, max: 10_000 }), (name, url, minutes) => {
        for (const [id, variables] of [
          ['welcome', { name, actionUrl: url }],
          ['password-reset', { name, resetUrl: url, expiresInMinutes: minutes }],
          ['receipt', { name, total: url, items: [{ description: name, quantity: minutes, amount: url }] }],
        ] as const) {
          const rendered = render(id, variables);
          expect(rendered).toBeDefined();
          expect(rendered?.text).not.toMatch(/<\/?[a-z!][^>]*>/i);
          expect(rendered?.text).toContain(name.trim() === '' ? '' : name.trim().split('\n')[0]);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('Templates: the form notification over any submitted values', () => {
  // Every field value reaches the subject too (a field name in {{ }} is filled), so a line break in any of
  // them would end the Subject line if the subject were not kept to one.
  const config = configWith({
    forms: [
      {
        id: 'contact',
        recipients: ['owner@example.com'],
        subject: 'From {{name}} at {{company}}: {{message}}',
        maxFieldLength: 5_000,
      },
    ],
  });
  const form = config.forms[0] as FormConfig;

  /** The notification of a submission with these values, or undefined when the form refuses it. */
  function notification(name: string, company: string, message: string) {
    try {
      const submission = validateSubmission(
        [
          ['name', name],
          ['email', 'visitor@example.org'],
          ['company', company],
          ['message', message],
        ],
        form,
      );
      return buildFormMailJob(
        config,
        form,
        submission,
        { id: JOB_ID, createdAt: CREATED_AT },
        [],
        shippedTemplatesNow(),
      );
    } catch (error) {
      if (error instanceof ValidationError) return undefined; // refused (a name with a line break...)
      throw error;
    }
  }

  it('no field value breaks out of escaping in the HTML: it adds no tag, quote or attribute', () => {
    const baseline = markupCounts(notification('v', 'v', 'v')?.html ?? '');
    fc.assert(
      fc.property(value, value, value, (name, company, message) => {
        // A leading letter keeps every field present, so the markup compared is that of the same fields.
        const job = notification(`v${name}`, `v${company}`, `v${message}`);
        if (job === undefined) return;
        expect(markupCounts(job.html)).toEqual(baseline);
      }),
      { numRuns: 300 },
    );
  });

  it('no field value adds a header: the composed mail has the same headers, and one Subject line', async () => {
    const headers = async (job: NonNullable<ReturnType<typeof notification>>) => {
      const raw = (await composeMail(job)).raw.toString('latin1');
      const block = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n(?=[ \t])/g, '');
      return block
        .split('\r\n')
        .map((line) => line.slice(0, line.indexOf(':')).toLowerCase())
        .filter((name) => name !== 'date')
        .sort();
    };
    const plain = notification('v', 'v', 'v');
    if (plain === undefined) throw new Error('the plain submission is refused');
    const baseline = await headers(plain);
    await fc.assert(
      fc.asyncProperty(value, value, value, async (name, company, message) => {
        const job = notification(`v${name}`, `v${company}`, `v${message}`);
        if (job === undefined) return;
        expect(job.subject).not.toMatch(/[\r\n]/);
        expect(job.subject).toMatch(/^From v/);
        expect(await headers(job)).toEqual(baseline);
      }),
      { numRuns: 150 },
    );
  });

  it('the text part never contains HTML tags the values did not bring, and is not HTML-escaped', () => {
    const plain = fc.string({
      unit: fc.constantFrom('a', 'B', '&', '"', "'", ' ', '\n', '€'),
      maxLength: 20,
    });
    fc.assert(
      fc.property(plain, plain, (company, message) => {
        const job = notification('Vera', `v${company}`, `v${message}`);
        if (job === undefined) return;
        expect(job.text).not.toMatch(/<\/?[a-z!][^>]*>/i);
        // The value as written (trimmed), whole: multi-line values keep their lines in the text part.
        expect(job.text).toContain(`v${company}`.trim());
        expect(job.text).not.toMatch(/&(amp|quot|#x27);/);
      }),
      { numRuns: 200 },
    );
  });
});
