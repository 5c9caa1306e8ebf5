import { describe, expect, it } from 'vitest';
import { HttpError, ValidationError } from '../../functions/core/errors';
import { type FileRules, parseFormBody, parseFormUpload } from '../../functions/core/forms/form-body';
import { MULTIPART_TYPE, type MultipartPart, multipartBody, sampleFile } from '../support/multipart';

const RULES: FileRules = {
  allowedTypes: ['application/pdf', 'image/png', 'image/jpeg'],
  maxFileBytes: 10_000,
  maxTotalBytes: 15_000,
  maxFiles: 3,
};
const LIMITS = { maxFields: 10, maxFieldLength: 1_000, files: RULES };
const TEXT_FIELDS: MultipartPart[] = [
  { name: 'email', value: 'visitor@example.org' },
  { name: 'message', value: 'See the attached file.' },
];

function upload(parts: ReadonlyArray<MultipartPart>, limits = LIMITS) {
  return parseFormUpload(MULTIPART_TYPE, multipartBody([...TEXT_FIELDS, ...parts]), limits);
}

/** The field errors a parse was refused with (422). */
async function fieldErrors(
  promise: Promise<unknown>,
): Promise<ReadonlyArray<{ field: string; detail: string }>> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.status).toBe(422);
    return error.errors ?? [];
  }
  throw new Error('expected the body to be refused');
}

const pdf = (size = 1_000, filename = 'quote.pdf'): MultipartPart => ({
  name: 'attachment',
  filename,
  contentType: 'application/pdf',
  content: sampleFile('pdf', size),
});

describe('Core: multipart file fields', () => {
  it('returns an allowed file with its name, declared type and exact bytes, beside the fields', async () => {
    // Prepare
    const content = sampleFile('pdf', 2_345);

    // Act
    const parsed = await upload([
      { name: 'attachment', filename: 'quote.pdf', contentType: 'application/pdf', content },
    ]);

    // Assess
    expect(parsed.fields).toEqual([
      ['email', 'visitor@example.org'],
      ['message', 'See the attached file.'],
    ]);
    expect(parsed.files).toHaveLength(1);
    expect(parsed.files[0]).toMatchObject({
      field: 'attachment',
      filename: 'quote.pdf',
      contentType: 'application/pdf',
    });
    expect(parsed.files[0]?.content.equals(content)).toBe(true);
  });

  it.each([
    ['image/png', 'png'],
    ['image/jpeg', 'jpeg'],
  ] as const)('accepts a %s whose bytes carry its signature', async (contentType, kind) => {
    const parsed = await upload([
      { name: 'photo', filename: `photo.${kind}`, contentType, content: sampleFile(kind) },
    ]);
    expect(parsed.files.map((file) => file.contentType)).toEqual([contentType]);
  });

  it('accepts a zip-based Office document declared as such', async () => {
    const type = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
    const parsed = await upload(
      [{ name: 'doc', filename: 'cv.docx', contentType: type, content: sampleFile('docx') }],
      { ...LIMITS, files: { ...RULES, allowedTypes: [type] } },
    );
    expect(parsed.files.map((file) => file.filename)).toEqual(['cv.docx']);
  });

  it('ignores the empty part a browser sends for a file input left empty', async () => {
    const parsed = await upload([
      { name: 'attachment', contentType: 'application/octet-stream', content: Buffer.alloc(0) },
    ]);
    expect(parsed.files).toEqual([]);
  });

  it('returns 422 for a file sent to a form that accepts none, as before', async () => {
    const body = multipartBody([...TEXT_FIELDS, pdf()]);
    expect(
      await fieldErrors(parseFormBody(MULTIPART_TYPE, body, { maxFields: 10, maxFieldLength: 1_000 })),
    ).toEqual([{ field: 'attachment', detail: 'file uploads are not accepted by this form' }]);
    expect(
      await fieldErrors(
        parseFormUpload(MULTIPART_TYPE, body, { ...LIMITS, files: { ...RULES, allowedTypes: [] } }),
      ),
    ).toEqual([{ field: 'attachment', detail: 'file uploads are not accepted by this form' }]);
  });

  it('returns 422 naming the field when the declared type is not allowed', async () => {
    const errors = await fieldErrors(
      upload([{ name: 'logo', filename: 'logo.gif', contentType: 'image/gif', content: sampleFile('gif') }]),
    );
    expect(errors).toEqual([
      {
        field: 'logo',
        detail: 'type image/gif is not accepted; send application/pdf, image/png, image/jpeg',
      },
    ]);
  });

  it('returns 422 when the bytes do not match the allowed type they claim', async () => {
    const errors = await fieldErrors(
      upload([
        {
          name: 'attachment',
          filename: 'invoice.pdf',
          contentType: 'application/pdf',
          content: sampleFile('png'),
        },
      ]),
    );
    expect(errors).toEqual([{ field: 'attachment', detail: 'content is not a application/pdf file' }]);
  });

  it('returns 422 when a text file holds binary content', async () => {
    const errors = await fieldErrors(
      upload(
        [
          {
            name: 'notes',
            filename: 'notes.txt',
            contentType: 'text/plain',
            content: Buffer.from([0x4d, 0x5a, 0x00, 0x01]),
          },
        ],
        {
          ...LIMITS,
          files: { ...RULES, allowedTypes: ['text/plain'] },
        },
      ),
    );
    expect(errors).toEqual([{ field: 'notes', detail: 'content is not a text/plain file' }]);
  });

  it('returns 422 for a file larger than maxFileBytes', async () => {
    const errors = await fieldErrors(upload([pdf(10_001)]));
    expect(errors).toEqual([{ field: 'attachment', detail: 'must be at most 10000 bytes' }]);
  });

  it('accepts a file of exactly maxFileBytes', async () => {
    const parsed = await upload([pdf(10_000)]);
    expect(parsed.files[0]?.content).toHaveLength(10_000);
  });

  it('returns 422 naming the file that takes the total over maxTotalBytes', async () => {
    const errors = await fieldErrors(
      upload([pdf(8_000, 'a.pdf'), { ...pdf(8_000, 'b.pdf'), name: 'second' }]),
    );
    expect(errors).toEqual([
      { field: 'second', detail: 'makes the files larger than the 15000 bytes accepted in total' },
    ]);
  });

  it('returns 422 for more than maxFiles files', async () => {
    const errors = await fieldErrors(
      upload([
        pdf(100, 'a.pdf'),
        pdf(100, 'b.pdf'),
        pdf(100, 'c.pdf'),
        { ...pdf(100, 'd.pdf'), name: 'fourth' },
      ]),
    );
    expect(errors).toEqual([{ field: 'fourth', detail: 'is more than the 3 files this form accepts' }]);
  });

  it.each(['../../etc/passwd.pdf', 'C:\\Users\\me\\quote.pdf', 'dir/quote.pdf'])(
    'returns 422 for the file name %j, which holds a path',
    async (filename) => {
      const errors = await fieldErrors(upload([pdf(100, filename)]));
      expect(errors).toEqual([{ field: 'attachment', detail: 'file name must not contain a path' }]);
    },
  );

  it.each([
    ['a tab', 'quote\t.pdf'],
    ['a C1 next-line', 'quote\u0085.pdf'],
    ['a line separator', 'quote\u2028.pdf'],
    ['a right-to-left override', 'invoice\u202efdp.exe'],
  ])('returns 422 for a file name with %s', async (_, filename) => {
    const errors = await fieldErrors(upload([pdf(100, filename)]));
    expect(errors).toEqual([
      { field: 'attachment', detail: 'file name must not contain control characters' },
    ]);
  });

  it('returns 422 for a file name over 200 characters, and accepts one of 200', async () => {
    const long = `${'n'.repeat(197)}.pdf`;
    expect(await fieldErrors(upload([pdf(100, long)]))).toEqual([
      { field: 'attachment', detail: 'file name must be at most 200 characters' },
    ]);
    const parsed = await upload([pdf(100, long.slice(1))]);
    expect(parsed.files[0]?.filename).toHaveLength(200);
  });

  it('returns 422 for a file part with bytes but no file name', async () => {
    const errors = await fieldErrors(
      upload([
        { name: 'attachment', contentType: 'application/octet-stream', content: sampleFile('pdf', 50) },
      ]),
    );
    expect(errors).toEqual([{ field: 'attachment', detail: 'must have a file name' }]);
  });

  it('trims spaces around a file name and keeps the rest as the visitor wrote it', async () => {
    const parsed = await upload([pdf(100, '  Angebot für Müller.pdf ')]);
    expect(parsed.files[0]?.filename).toBe('Angebot für Müller.pdf');
  });

  it('has no files for a JSON body', async () => {
    const parsed = await parseFormUpload('application/json', Buffer.from('{"email":"a@x.com"}'), LIMITS);
    expect(parsed).toEqual({ fields: [['email', 'a@x.com']], files: [] });
  });
});
