import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  HttpError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../functions/core/errors';
import { bodyFormat, parseFormBody } from '../../functions/core/forms/form-body';

const LIMITS = { maxFields: 5, maxFieldLength: 100 };
const BOUNDARY = '----postroom-test-boundary-7MA4YWxkTrZu0gW';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

type Part = { name: string; value: string; filename?: string; contentType?: string };

/** A multipart/form-data body written by hand (RFC 7578), CRLF line ends. */
function multipart(parts: ReadonlyArray<Part>, boundary = BOUNDARY): Buffer {
  const chunks = parts.map((part) => {
    const disposition = `Content-Disposition: form-data; name="${part.name}"${
      part.filename === undefined ? '' : `; filename="${part.filename}"`
    }`;
    const type = part.contentType === undefined ? '' : `\r\nContent-Type: ${part.contentType}`;
    return `--${boundary}\r\n${disposition}${type}\r\n\r\n${part.value}\r\n`;
  });
  return Buffer.from(`${chunks.join('')}--${boundary}--\r\n`, 'utf8');
}

/** The error a parse rejected with. */
async function rejectionOf(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected the body to be refused');
}

describe('Core: bodyFormat', () => {
  it.each([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['Application/JSON', 'json'],
    ['application/x-www-form-urlencoded', 'urlencoded'],
    ['application/x-www-form-urlencoded;charset=UTF-8', 'urlencoded'],
    [MULTIPART, 'multipart'],
  ])('reads %j as %s', (contentType, format) => {
    expect(bodyFormat(contentType)).toBe(format);
  });
});

describe('Core: parseFormBody', () => {
  describe('JSON', () => {
    it('returns the fields in order', async () => {
      // Prepare
      const body = Buffer.from(JSON.stringify({ email: 'a@x.com', name: 'Zoë', message: 'Hi 👋' }));

      // Act
      const fields = await parseFormBody('application/json', body, LIMITS);

      // Assess
      expect(fields).toEqual([
        ['email', 'a@x.com'],
        ['name', 'Zoë'],
        ['message', 'Hi 👋'],
      ]);
    });

    it('returns 400 for malformed JSON', async () => {
      const error = await rejectionOf(parseFormBody('application/json', Buffer.from('{"email":'), LIMITS));
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error.status).toBe(400);
      expect(error.message).toBe('The body is not valid JSON.');
    });

    it.each([
      ['an array', '[["email","a@x.com"]]'],
      ['a string', '"email=a@x.com"'],
      ['a number', '42'],
      ['null', 'null'],
    ])('returns 400 when the JSON is %s, not an object', async (_, json) => {
      const error = await rejectionOf(parseFormBody('application/json', Buffer.from(json), LIMITS));
      expect(error.status).toBe(400);
      expect(error.message).toBe('The body must be a JSON object of field names to values.');
    });

    it('returns 422 naming every field whose value is not a string', async () => {
      // Prepare
      const body = Buffer.from(
        JSON.stringify({ email: ['a@x.com', 'b@y.com'], name: 'Jane', age: 42, extra: { a: 1 }, ok: null }),
      );

      // Act
      const error = await rejectionOf(parseFormBody('application/json', body, LIMITS));

      // Assess
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.status).toBe(422);
      expect(error.errors).toEqual([
        { field: 'email', detail: 'must be a string' },
        { field: 'age', detail: 'must be a string' },
        { field: 'extra', detail: 'must be a string' },
        { field: 'ok', detail: 'must be a string' },
      ]);
    });

    it('returns 422 when there are more fields than the limit', async () => {
      const body = Buffer.from(JSON.stringify({ a: '1', b: '2', c: '3', d: '4', e: '5', f: '6' }));
      const error = await rejectionOf(parseFormBody('application/json', body, LIMITS));
      expect(error.status).toBe(422);
      expect(error.errors).toEqual([{ field: '(body)', detail: 'has more than 5 fields' }]);
    });

    it('accepts exactly the field limit', async () => {
      const body = Buffer.from(JSON.stringify({ a: '1', b: '2', c: '3', d: '4', e: '5' }));
      await expect(parseFormBody('application/json', body, LIMITS)).resolves.toHaveLength(5);
    });
  });

  describe('urlencoded', () => {
    it('decodes names and values, keeping repeated names', async () => {
      // Prepare
      const body = Buffer.from('email=a%40x.com&name=Zo%C3%AB+Smith&message=line1%0D%0Aline2&name=again');

      // Act
      const fields = await parseFormBody('application/x-www-form-urlencoded', body, LIMITS);

      // Assess
      expect(fields).toEqual([
        ['email', 'a@x.com'],
        ['name', 'Zoë Smith'],
        ['message', 'line1\r\nline2'],
        ['name', 'again'],
      ]);
    });

    it('returns 422 when there are more fields than the limit', async () => {
      const body = Buffer.from('a=1&b=2&c=3&d=4&e=5&f=6');
      const error = await rejectionOf(parseFormBody('application/x-www-form-urlencoded', body, LIMITS));
      expect(error.status).toBe(422);
      expect(error.errors).toEqual([{ field: '(body)', detail: 'has more than 5 fields' }]);
    });
  });

  describe('multipart', () => {
    it('returns the text fields in order, decoded as UTF-8', async () => {
      // Prepare
      const body = multipart([
        { name: 'email', value: 'a@x.com' },
        { name: 'name', value: 'Zoë' },
        { name: 'message', value: 'line1\r\nline2 👋' },
      ]);

      // Act
      const fields = await parseFormBody(MULTIPART, body, LIMITS);

      // Assess
      expect(fields).toEqual([
        ['email', 'a@x.com'],
        ['name', 'Zoë'],
        ['message', 'line1\r\nline2 👋'],
      ]);
    });

    it('returns 422 for a file part and names its field', async () => {
      // Prepare
      const body = multipart([
        { name: 'email', value: 'a@x.com' },
        {
          name: 'attachment',
          value: 'MZ\u0000\u0001binary',
          filename: 'invoice.exe',
          contentType: 'application/octet-stream',
        },
      ]);

      // Act
      const error = await rejectionOf(parseFormBody(MULTIPART, body, LIMITS));

      // Assess
      expect(error.status).toBe(422);
      expect(error.errors).toEqual([
        { field: 'attachment', detail: 'file uploads are not accepted by this form' },
      ]);
    });

    it('returns 422 for a field longer than the limit can hold in UTF-8', async () => {
      // Prepare: the byte limit is four bytes per allowed character
      const body = multipart([
        { name: 'email', value: 'a@x.com' },
        { name: 'message', value: 'x'.repeat(LIMITS.maxFieldLength * 4 + 1) },
      ]);

      // Act
      const error = await rejectionOf(parseFormBody(MULTIPART, body, LIMITS));

      // Assess
      expect(error.status).toBe(422);
      expect(error.errors).toEqual([{ field: 'message', detail: 'must be at most 100 characters' }]);
    });

    it('returns 422 when there are more fields than the limit', async () => {
      const parts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((name) => ({ name, value: name }));
      const error = await rejectionOf(parseFormBody(MULTIPART, multipart(parts), LIMITS));
      expect(error.status).toBe(422);
      expect(error.errors).toHaveLength(1);
      expect(error.errors?.[0]?.field).toBe('(body)');
      expect(error.errors?.[0]?.detail).toMatch(/^has more than 5 (fields|parts)$/);
    });

    it('returns 422 when there is exactly one field too many', async () => {
      const parts = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => ({ name, value: name }));
      const error = await rejectionOf(parseFormBody(MULTIPART, multipart(parts), LIMITS));
      expect(error.status).toBe(422);
      expect(error.errors?.[0]?.field).toBe('(body)');
      expect(error.errors?.[0]?.detail).toMatch(/^has more than 5 (fields|parts)$/);
    });

    it('accepts exactly the field limit', async () => {
      const parts = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, value: name }));
      const fields = await parseFormBody(MULTIPART, multipart(parts), LIMITS);
      expect(fields.map(([name]) => name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('returns 400 when the content type has no boundary', async () => {
      const error = await rejectionOf(
        parseFormBody('multipart/form-data', multipart([{ name: 'a', value: 'b' }]), LIMITS),
      );
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error.message).toBe('The multipart body has no valid boundary.');
    });

    it('returns 400 for a body cut off before its closing boundary', async () => {
      // Prepare
      const body = Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="email"\r\n\r\na@x.com\r\n--${BOUNDARY}\r\nContent-Dispo`,
      );

      // Act
      const error = await rejectionOf(parseFormBody(MULTIPART, body, LIMITS));

      // Assess
      expect(error.status).toBe(400);
      expect(error.message).toBe('The multipart body is malformed.');
    });

    it('returns 400 for a body written with a different boundary', async () => {
      const body = multipart([{ name: 'email', value: 'a@x.com' }], 'some-other-boundary');
      const error = await rejectionOf(parseFormBody(MULTIPART, body, LIMITS));
      expect(error.status).toBe(400);
    });
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['XML', 'application/xml'],
    ['an empty header', ''],
    ['no header', undefined],
  ])('returns 415 for %s', async (_, contentType) => {
    const error = await rejectionOf(parseFormBody(contentType, Buffer.from('{"email":"a@x.com"}'), LIMITS));
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(error.status).toBe(415);
  });
});
