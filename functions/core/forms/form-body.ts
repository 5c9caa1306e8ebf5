import type { Busboy, FileInfo } from 'busboy';
import { BadRequestError, UnsupportedMediaTypeError, ValidationError } from '../errors';
import { mediaType } from '../http';
import { checkFilename, contentMatchesType } from './uploads';

/** The fields of a submission in the order they came, with repeated names kept so validation can refuse them. */
export type SubmittedFields = ReadonlyArray<readonly [name: string, value: string]>;

export interface BodyLimits {
  /** Most fields accepted before the body is refused as too large to be a contact form. */
  readonly maxFields: number;
  /** Longest field value, in characters. */
  readonly maxFieldLength: number;
}

/** The files a form accepts (its `files` config). No allowed types: every file part is refused. */
export interface FileRules {
  readonly allowedTypes: ReadonlyArray<string>;
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxFiles: number;
}

/** A file a visitor uploaded, already checked against the form's rules. */
export interface UploadedFile {
  /** The multipart field it came in. */
  readonly field: string;
  /** A plain file name: no path, no control characters, at most 200 characters. */
  readonly filename: string;
  /** The declared type, lowercased without parameters; one of the form's allowed types. */
  readonly contentType: string;
  readonly content: Buffer;
}

export interface ParsedFormBody {
  readonly fields: SubmittedFields;
  /** Always empty for JSON and urlencoded bodies, and for forms that accept no files. */
  readonly files: ReadonlyArray<UploadedFile>;
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

/** The fields of a body; any file part is refused with 422. */
export async function parseFormBody(
  contentType: string | undefined,
  body: Buffer,
  limits: BodyLimits,
): Promise<SubmittedFields> {
  const { maxFields, maxFieldLength } = limits;
  return (await parseFormUpload(contentType, body, { maxFields, maxFieldLength })).fields;
}

/** The fields and, for a multipart body to a form that accepts files, the files. */
export async function parseFormUpload(
  contentType: string | undefined,
  body: Buffer,
  limits: BodyLimits & { readonly files?: FileRules | undefined },
): Promise<ParsedFormBody> {
  const format = bodyFormat(contentType);
  const parsed =
    format === 'json'
      ? { fields: parseJson(body), files: [] }
      : format === 'urlencoded'
        ? { fields: parseUrlEncoded(body), files: [] }
        : await parseMultipart(contentType ?? '', body, limits);
  if (parsed.fields.length > limits.maxFields) {
    throw new ValidationError([{ field: '(body)', detail: `has more than ${limits.maxFields} fields` }]);
  }
  return parsed;
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

async function parseMultipart(
  contentType: string,
  body: Buffer,
  limits: BodyLimits & { readonly files?: FileRules | undefined },
): Promise<ParsedFormBody> {
  // Loaded by the first multipart post: JSON and urlencoded posts, the usual ones, never need the parser.
  const { default: busboy } = await import('busboy');
  const rules = limits.files !== undefined && limits.files.allowedTypes.length > 0 ? limits.files : undefined;
  return new Promise((resolve, reject) => {
    let parser: Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        // The raw file name, so that a name with a path is refused rather than silently cut.
        preservePath: true,
        // Browsers send a file name as raw UTF-8 in `filename="..."` (HTML's multipart/form-data encoding).
        defParamCharset: 'utf8',
        limits: {
          fields: limits.maxFields + 1,
          // Bytes, and a character can take four of them in UTF-8.
          fieldSize: limits.maxFieldLength * 4,
          parts: limits.maxFields + 1 + (rules?.maxFiles ?? 0),
          // busboy flags a file that reaches the limit, so one byte more than the largest allowed.
          ...(rules === undefined ? {} : { fileSize: rules.maxFileBytes + 1 }),
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
    const files: UploadedFile[] = [];
    const upload = { count: 0, totalBytes: 0 };
    parser.on('file', (name, stream, info) => {
      if (rules === undefined) {
        stream.resume();
        errors.push({ field: name, detail: 'file uploads are not accepted by this form' });
        return;
      }
      const chunks: Buffer[] = [];
      let truncated = false;
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        truncated = true;
      });
      stream.on('end', () => {
        const problem = checkFile(name, info, Buffer.concat(chunks), truncated, rules, upload);
        if (problem === 'empty') return;
        if (typeof problem === 'string') errors.push({ field: printable(name), detail: problem });
        else files.push(problem);
      });
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
      else resolve({ fields, files });
    });
    parser.end(body);
  });
}

/**
 * One file part against the form's rules, in the order a visitor can fix them. `empty` is the part a
 * browser sends for a file input left empty (no name, no bytes): it is no file and no error.
 */
function checkFile(
  field: string,
  info: FileInfo,
  content: Buffer,
  truncated: boolean,
  rules: FileRules,
  upload: { count: number; totalBytes: number },
): UploadedFile | string | 'empty' {
  if (info.filename === undefined && content.length === 0) return 'empty';
  upload.count += 1;
  if (upload.count > rules.maxFiles) return `is more than the ${rules.maxFiles} files this form accepts`;
  const name = checkFilename(info.filename);
  if (!name.ok) return name.reason;
  const contentType = info.mimeType.toLowerCase();
  if (!rules.allowedTypes.includes(contentType)) {
    return `type ${contentType.slice(0, 100)} is not accepted; send ${rules.allowedTypes.join(', ')}`;
  }
  if (truncated) return `must be at most ${rules.maxFileBytes} bytes`;
  upload.totalBytes += content.length;
  if (upload.totalBytes > rules.maxTotalBytes)
    return `makes the files larger than the ${rules.maxTotalBytes} bytes accepted in total`;
  if (!contentMatchesType(content, contentType)) return `content is not a ${contentType} file`;
  return { field, filename: name.filename, contentType, content };
}

/** A field name fit to echo back in an error: bounded and printable. */
function printable(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are replaced
  const text = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
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
