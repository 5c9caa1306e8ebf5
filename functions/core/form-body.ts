import busboy from 'busboy';
import { BadRequestError, UnsupportedMediaTypeError, ValidationError } from './errors';
import { mediaType } from './http';

/** The fields of a submission in the order they came, with repeated names kept so validation can refuse them. */
export type SubmittedFields = ReadonlyArray<readonly [name: string, value: string]>;

export interface BodyLimits {
  /** Most fields accepted before the body is refused as too large to be a contact form. */
  readonly maxFields: number;
  /** Longest field value, in characters. */
  readonly maxFieldLength: number;
}

export type BodyFormat = 'json' | 'urlencoded' | 'multipart';

export function bodyFormat(contentType: string | undefined): BodyFormat {
  switch (mediaType(contentType)) {
    case 'application/json':
      return 'json';
    case 'application/x-www-form-urlencoded':
      return 'urlencoded';
    case 'multipart/form-data':
      return 'multipart';
    default:
      throw new UnsupportedMediaTypeError();
  }
}

export async function parseFormBody(
  contentType: string | undefined,
  body: Buffer,
  limits: BodyLimits,
): Promise<SubmittedFields> {
  const format = bodyFormat(contentType);
  const fields =
    format === 'json'
      ? parseJson(body)
      : format === 'urlencoded'
        ? parseUrlEncoded(body)
        : await parseMultipart(contentType ?? '', body, limits);
  if (fields.length > limits.maxFields) {
    throw new ValidationError([{ field: '(body)', detail: `has more than ${limits.maxFields} fields` }]);
  }
  return fields;
}

function parseJson(body: Buffer): SubmittedFields {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('The body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError('The body must be a JSON object of field names to values.');
  }
  const fields: Array<[string, string]> = [];
  const errors = [];
  for (const [name, fieldValue] of Object.entries(value)) {
    if (typeof fieldValue === 'string') fields.push([name, fieldValue]);
    else errors.push({ field: name, detail: 'must be a string' });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return fields;
}

function parseUrlEncoded(body: Buffer): SubmittedFields {
  return [...new URLSearchParams(body.toString('utf8'))];
}

function parseMultipart(contentType: string, body: Buffer, limits: BodyLimits): Promise<SubmittedFields> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        limits: {
          fields: limits.maxFields + 1,
          // Bytes, and a character can take four of them in UTF-8.
          fieldSize: limits.maxFieldLength * 4,
          parts: limits.maxFields + 1,
        },
      });
    } catch {
      reject(new BadRequestError('The multipart body has no valid boundary.'));
      return;
    }
    const fields: Array<[string, string]> = [];
    const errors: Array<{ field: string; detail: string }> = [];
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated)
        errors.push({ field: name, detail: `must be at most ${limits.maxFieldLength} characters` });
      else fields.push([name, value]);
    });
    parser.on('file', (name, stream) => {
      stream.resume();
      errors.push({ field: name, detail: 'file uploads are not accepted by this form' });
    });
    parser.on('fieldsLimit', () =>
      errors.push({ field: '(body)', detail: `has more than ${limits.maxFields} fields` }),
    );
    parser.on('partsLimit', () =>
      errors.push({ field: '(body)', detail: `has more than ${limits.maxFields} parts` }),
    );
    parser.on('error', () => reject(new BadRequestError('The multipart body is malformed.')));
    parser.on('close', () => {
      if (errors.length > 0) reject(new ValidationError(dedupe(errors)));
      else resolve(fields);
    });
    parser.end(body);
  });
}

function dedupe(errors: ReadonlyArray<{ field: string; detail: string }>) {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}\u0000${e.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
