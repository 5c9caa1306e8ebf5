import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FormConfig } from '../../functions/core/config/config';
import { ConfigError } from '../../functions/core/errors';
import {
  buildAutoresponseJob,
  buildFormMailJob,
  notificationValues,
  templateLabel,
} from '../../functions/core/forms/form-mail';
import { type FormSubmission, validateSubmission } from '../../functions/core/forms/form-submission';
import { mailJobSchema } from '../../functions/core/mail/mail-job';
import { bundleFunction } from '../../infra/bundling';
import { checkFormTemplates, compileTemplates, evaluateTemplates } from '../../infra/templates';
import { CREATED_AT, configWith, JOB_ID, shippedConfig } from '../fakes/config';
import { shippedTemplatesNow, templatesFolder } from '../support/templates';

const config = shippedConfig();
const contact = config.forms[0] as FormConfig;
const form: FormConfig = { ...contact, maxExtraFields: 3, maxFieldLength: 300 };
const META = { id: JOB_ID, createdAt: CREATED_AT };

const VALID: ReadonlyArray<readonly [string, string]> = [
  ['email', 'visitor@example.org'],
  ['name', 'Vera Visitor'],
  ['message', 'Hello, I would like a quote.'],
];

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

function notification(
  on: FormConfig,
  submitted: FormSubmission,
  files: Parameters<typeof buildFormMailJob>[4] = [],
) {
  return buildFormMailJob(config, on, submitted, META, files, shippedTemplatesNow());
}

describe('Core: the form notification (templates/form-notification)', () => {
  const hostile = submission({
    email: { address: "o'neil&co@example.org", localPart: "o'neil&co", domain: 'example.org' },
    name: '<b>Vera</b> "V" & \'co\'',
    message: '<script>alert(1)</script>\nline two',
    extra: [
      ['company', '<img src=x onerror=alert(1)>'],
      ['postal_address', 'Main St 1\nSpringfield'],
    ],
  });

  it('escapes every field in the HTML part', () => {
    // Act
    const { html } = notification(form, hostile);

    // Assess
    expect(html).toContain('&lt;b&gt;Vera&lt;/b&gt; &quot;V&quot; &amp; &#x27;co&#x27;');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;\nline two');
    expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(html).toContain('o&#x27;neil&amp;co@example.org');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>Vera');
  });

  it('shows each field as a label over its value, multi-line values kept, in a designed table layout', () => {
    const { html } = notification(form, hostile);
    // Labels: the standard fields by name, the others from their field names.
    const labels = [...html.matchAll(/<div class="label"[^>]*>([^<]*)<\/div>/g)].map((match) => match[1]);
    expect(labels).toEqual(['Name', 'Email', 'Company', 'Postal address', 'Message']);
    // The value keeps its line break, shown by white-space: pre-wrap (inlined for clients without <style>).
    expect(html).toMatch(
      /<div class="value" style="[^"]*white-space: pre-wrap[^"]*">Main St 1\nSpringfield<\/div>/,
    );
    expect(html).toMatch(/<td class="content" style="[^"]*font-family: -apple-system/);
    expect(html).toContain('prefers-color-scheme: dark');
    expect(html).toContain('Reply to this mail to answer o&#x27;neil&amp;co@example.org.');
  });

  it('lists every field in the text part, multi-line values under their label, then who to reply to', () => {
    const { text } = notification(form, hostile);
    expect(text).toBe(
      [
        'New message from <b>Vera</b> "V" & \'co\'',
        'Form "contact", 2025-01-15 12:00 UTC',
        '',
        'Name: <b>Vera</b> "V" & \'co\'',
        "Email: o'neil&co@example.org",
        'Company: <img src=x onerror=alert(1)>',
        'Postal address:',
        'Main St 1',
        'Springfield',
        '',
        'Message:',
        '<script>alert(1)</script>',
        'line two',
        '',
        '--',
        "Reply to this mail to answer o'neil&co@example.org.",
        `Submission ${JOB_ID}`,
        '',
      ].join('\n'),
    );
  });

  it('leaves out the name when none was given', () => {
    const { text, html } = notification(form, submission({ name: undefined }));
    expect(text).not.toContain('Name:');
    expect(html).not.toContain('>Name<');
    expect(notificationValues(form, submission({ name: undefined }), META).name).toBeNull();
  });

  it('lists attached files by name, type and size, never their content', () => {
    // Prepare
    const files = [
      { filename: 'plan <v2>.pdf', contentType: 'application/pdf', size: 186_778, content: 'JVBERi0x' },
    ];

    // Act
    const job = notification(form, submission(), files);

    // Assess
    expect(job.text).toContain('Attached files:\n- plan <v2>.pdf (application/pdf, 182.4 KiB)\n');
    expect(job.html).toContain('plan &lt;v2&gt;.pdf');
    expect(job.html).toContain('182.4 KiB');
    expect(job.html).not.toContain('JVBERi0x');
    expect(job.attachments).toEqual(files);
    expect(notification(form, submission()).text).not.toContain('Attached files');
  });

  it('renders the shipped preview as recorded, under 100 KB', () => {
    // Prepare: the notification of a submission like the template's preview data.
    const submitted = validateSubmission(
      [
        ['name', 'Ada Lovelace'],
        ['email', 'ada@example.org'],
        ['company', 'Analytical Engines Ltd'],
        ['message', 'Hello,\r\n\r\nCould you send me a quote for 40 punched cards?\r\nThank you, Ada'],
      ],
      contact,
    );

    // Act
    const job = notification(contact, submitted, [
      { filename: 'card-layout.pdf', contentType: 'application/pdf', size: 186_778, content: '' },
    ]);

    // Assess
    expect({ subject: job.subject, html: job.html, text: job.text }).toMatchSnapshot();
    expect(Buffer.byteLength(job.html)).toBeLessThan(100_000);
  });
});

describe('Core: buildFormMailJob', () => {
  it('sends from the configured sender to the form recipients, replying to the visitor', () => {
    // Prepare
    const submitted = validateSubmission([...VALID, ['company', 'ACME']], contact);

    // Act
    const job = notification(contact, submitted);

    // Assess
    expect(job).toMatchObject({
      v: 1,
      id: JOB_ID,
      source: { kind: 'form', formId: 'contact' },
      createdAt: '2025-01-15T12:00:00.000Z',
      from: { name: 'Postroom', address: 'no-reply@example.com' },
      to: ['owner@example.com'],
      replyTo: 'visitor@example.org',
      subject: 'New message from Vera Visitor',
    });
    expect(job.text).toContain('Company: ACME');
    expect(mailJobSchema.parse(job)).toEqual(job);
  });

  it('never puts the visitor in From or To', () => {
    const job = notification(contact, validateSubmission(VALID, contact));
    expect(JSON.stringify(job.from)).not.toContain('visitor@example.org');
    expect(job.to).not.toContain('visitor@example.org');
  });

  it('omits the sender name when the config has none', () => {
    const bare = configWith({ sender: 'no-reply@example.com' });
    const bareForm = bare.forms[0] as FormConfig;
    const job = buildFormMailJob(
      bare,
      bareForm,
      validateSubmission(VALID, bareForm),
      META,
      [],
      shippedTemplatesNow(),
    );
    expect(job.from).toEqual({ address: 'no-reply@example.com' });
    expect(mailJobSchema.safeParse(job).success).toBe(true);
  });

  it('sends to every configured recipient', () => {
    const multi = configWith({
      forms: [{ id: 'sales', recipients: ['a@example.com', 'B@Example.com'], subject: 'Lead' }],
    });
    const salesForm = multi.forms[0] as FormConfig;
    const job = buildFormMailJob(
      multi,
      salesForm,
      validateSubmission(VALID, salesForm),
      META,
      [],
      shippedTemplatesNow(),
    );
    expect(job.to).toEqual(['a@example.com', 'B@example.com']);
    expect(job.source).toEqual({ kind: 'form', formId: 'sales' });
  });

  it('labels the mail with the template and its version, as a templated send', () => {
    const templates = shippedTemplatesNow();
    expect(templateLabel(templates, 'form-notification')).toBe(
      `form-notification@${templates['form-notification']?.version}`,
    );
  });
});

describe('Core: the autoresponse (templates/form-autoresponse)', () => {
  const auto = {
    ...contact,
    autoresponse: {
      subject: 'We got it',
      text: 'Thank you.\nWe answer within a day <promise>.',
      perRecipient: { max: 1, windowSeconds: 86_400 },
    },
  };

  it('renders the configured subject and text only, to the visitor', () => {
    // Act
    const job = buildAutoresponseJob(config, auto, 'visitor@example.org', META, shippedTemplatesNow());

    // Assess
    expect(job).toMatchObject({
      to: ['visitor@example.org'],
      subject: 'We got it',
      source: { kind: 'autoresponse' },
    });
    expect(job?.text).toBe(
      'We got it\n\nThank you.\nWe answer within a day <promise>.\n\n--\nThis is an automatic confirmation: there is no need to answer it.\n',
    );
    expect(job?.html).toContain('Thank you.\nWe answer within a day &lt;promise&gt;.');
    expect(job?.html).toContain('prefers-color-scheme: dark');
  });

  it('renders the shipped preview as recorded, under 100 KB', () => {
    const job = buildAutoresponseJob(config, auto, 'visitor@example.org', META, shippedTemplatesNow());
    expect({ subject: job?.subject, html: job?.html, text: job?.text }).toMatchSnapshot();
    expect(Buffer.byteLength(job?.html ?? '')).toBeLessThan(100_000);
  });

  it('is not built for a form without one', () => {
    expect(
      buildAutoresponseJob(config, contact, 'visitor@example.org', META, shippedTemplatesNow()),
    ).toBeUndefined();
  });
});

describe('Core: a form with templates of its own', () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const folder of folders) rmSync(path.dirname(folder), { recursive: true, force: true });
  });

  /** The shipped templates plus the given files, compiled. */
  function withTemplates(files: Record<string, string>) {
    const dir = templatesFolder(files);
    folders.push(dir);
    return { dir, sources: [...compileTemplates(), ...compileTemplates(dir)] };
  }

  const LEAD = {
    'lead/template.json': JSON.stringify({
      subject: 'Lead: {{email}}',
      variables: {
        email: { type: 'string', required: true },
        name: { type: 'string', default: 'someone' },
        fields: { type: 'list', items: { label: 'string', value: 'string' }, maxItems: 60 },
      },
      preview: { email: 'a@example.org', fields: [] },
    }),
    'lead/html.hbs': '<p>{{name}}</p>{{#each fields}}<p>{{label}}={{value}}</p>{{/each}}\n',
    'lead/text.hbs': '{{name}}\n{{#each fields}}{{label}}={{value}}\n{{/each}}',
    'thanks/template.json': JSON.stringify({ subject: 'Thanks', variables: {}, preview: {} }),
    'thanks/html.hbs': '<p>Thanks, we read every message.</p>\n',
  };

  it("renders the form's own notification and autoresponse, defaults filling what the form left out", () => {
    // Prepare
    const { sources } = withTemplates(LEAD);
    const templates = evaluateTemplates(sources);
    const custom = configWith({
      forms: [
        {
          id: 'sales',
          recipients: ['sales@example.com'],
          subject: 'Lead',
          template: 'lead',
          autoresponse: { subject: 'Thanks', template: 'thanks' },
        },
      ],
    });
    const sales = custom.forms[0] as FormConfig;
    checkFormTemplates(custom, sources);

    // Act
    const job = buildFormMailJob(custom, sales, submission({ name: undefined }), META, [], templates);
    const auto = buildAutoresponseJob(custom, sales, 'visitor@example.org', META, templates);

    // Assess
    expect(job.subject).toBe('Lead: visitor@example.org');
    expect(job.text).toBe('someone\nEmail=visitor@example.org\nMessage=Hello\n');
    expect(auto?.html).toBe('<p>Thanks, we read every message.</p>\n');
  });

  it('keeps a subject a template renders from field values on one bounded line', () => {
    const { sources } = withTemplates({
      'raw/template.json': JSON.stringify({
        subject: '{{message}}',
        variables: { message: { type: 'string', required: true } },
        preview: { message: 'x' },
      }),
      'raw/html.hbs': '<p>{{message}}</p>\n',
    });
    const custom = configWith({
      forms: [
        { id: 'raw', recipients: ['a@example.com'], subject: 'x', template: 'raw', maxFieldLength: 2000 },
      ],
    });
    const job = buildFormMailJob(
      custom,
      custom.forms[0] as FormConfig,
      submission({ message: `line one\nBcc: victim@example.org\n${'y'.repeat(600)}` }),
      META,
      [],
      evaluateTemplates(sources),
    );
    expect(job.subject).toMatch(/^line one Bcc: victim@example.org y+$/);
    expect(job.subject.length).toBe(250);
  });

  it('fails synth, naming the field and the template, when a form names a template that does not exist', () => {
    const bad = configWith({
      forms: [{ id: 'sales', recipients: ['a@example.com'], subject: 'x', template: 'nope' }],
    });
    expect(() => checkFormTemplates(bad, compileTemplates())).toThrow(ConfigError);
    expect(() => checkFormTemplates(bad, compileTemplates())).toThrow(
      /postroom\.forms\["sales"\]\.template: template "nope" is not in templates\/ \(templates: form-autoresponse, form-notification, password-reset, receipt, welcome\)/,
    );
  });

  it('fails synth when a template declares what the form path does not provide, or requires what it may not give', () => {
    // Prepare
    const { sources } = withTemplates({
      'quote/template.json': JSON.stringify({
        subject: 'Quote',
        variables: { budget: { type: 'number', required: true }, name: { type: 'string', required: true } },
        preview: { budget: 1, name: 'x' },
      }),
      'quote/html.hbs': '<p>{{budget}} {{name}}</p>\n',
      'listy/template.json': JSON.stringify({
        subject: 'Files',
        variables: { files: { type: 'list', items: { filename: 'string', pages: 'number' } } },
        preview: { files: [] },
      }),
      'listy/html.hbs': '{{#each files}}<p>{{filename}} {{pages}}</p>{{/each}}\n',
      'terse/template.json': JSON.stringify({
        subject: 'Hi',
        variables: { text: { type: 'string', required: true } },
        preview: { text: 'x' },
      }),
      'terse/html.hbs': '<p>{{text}}</p>\n',
    });
    const bad = configWith({
      forms: [
        { id: 'quotes', recipients: ['a@example.com'], subject: 'x', template: 'quote' },
        { id: 'uploads', recipients: ['a@example.com'], subject: 'x', template: 'listy' },
        {
          id: 'short',
          recipients: ['a@example.com'],
          subject: 'x',
          autoresponse: { subject: 'Hi', template: 'terse' },
        },
      ],
    });

    // Act
    let problems: ReadonlyArray<{ field: string; message: string }> = [];
    try {
      checkFormTemplates(bad, sources);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }

    // Assess
    expect(
      problems.map((problem) => `${problem.field}: ${problem.message.replace(/ \(a form provides.*$/, '')}`),
    ).toEqual([
      'postroom.forms["quotes"].template: template "quote" declares budget, which the form path does not provide',
      'postroom.forms["quotes"].template: template "quote" declares name, required, but this form does not always give it (make it optional)',
      'postroom.forms["uploads"].template: template "listy" declares files, whose items have pages:number, but a form\'s have filename:string, contentType:string, size:string, bytes:number',
      'postroom.forms["short"].autoresponse.template: template "terse" declares text, required, but this form does not always give it (make it optional)',
    ]);
  });

  it("fails the send function's build, which cdk synth runs, on a form's bad template", () => {
    const dir = templatesFolder({
      'welcome/template.json': '{"subject":"x","variables":{},"preview":{}}',
      'welcome/html.hbs': '<p>x</p>\n',
    });
    folders.push(dir);
    // The folder has no form-notification: the shipped configuration's form cannot render.
    expect(() =>
      bundleFunction('send', path.join(path.dirname(dir), 'send'), shippedConfig(), { templatesDir: dir }),
    ).toThrow(
      'postroom.forms["contact"].template: template "form-notification" is not in templates/ (templates: welcome)',
    );
  });
});
