import { uncarriableText } from '../mail/text';

/**
 * Rules for files a visitor uploads: what a file name may be, and whether the bytes are what the
 * declared type says. Shared by the multipart parser (which refuses a bad file with 422) and the MailJob
 * schema (which checks a job's attachments again by the same rules).
 */

/** A lowercase `type/subtype` MIME type without parameters (RFC 6838 section 4.2 restricted names). */
export const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export const MAX_FILENAME_LENGTH = 200;

// C0, DEL and C1 controls, line and paragraph separators, and the bidirectional controls that make
// `invoice\u202Efdp.exe` display as `invoiceexe.pdf` (CVE-2021-42574 describes the same trick in source code).
const UNSAFE_IN_FILENAME =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

export type FilenameCheck = { ok: true; filename: string } | { ok: false; reason: string };

/**
 * A file name is kept only when it is a plain name: no path (a name like `../../x` is an attack on
 * whoever saves the attachment), no control or direction characters, at most 200 characters. The
 * name is trimmed; nothing else is rewritten, so the recipient sees what the visitor chose.
 */
export function checkFilename(raw: string | undefined): FilenameCheck {
  const filename = raw?.trim() ?? '';
  if (filename === '') return { ok: false, reason: 'must have a file name' };
  if ([...filename].length > MAX_FILENAME_LENGTH)
    return { ok: false, reason: `file name must be at most ${MAX_FILENAME_LENGTH} characters` };
  if (/[/\\]/.test(filename)) return { ok: false, reason: 'file name must not contain a path' };
  if (UNSAFE_IN_FILENAME.test(filename))
    return { ok: false, reason: 'file name must not contain control characters' };
  const unfit = uncarriableText(filename);
  if (unfit !== undefined) return { ok: false, reason: `file name ${unfit}` };
  if (filename === '.' || filename === '..') return { ok: false, reason: 'must have a file name' };
  return { ok: true, filename };
}

const ZIP = (bytes: Buffer) =>
  startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) || startsWith(bytes, [0x50, 0x4b, 0x05, 0x06]);

/**
 * File signatures ("magic numbers") that are cheap to check: the first bytes of every valid file of the
 * type. https://www.iana.org/assignments/media-types and each format's specification (PDF 1.7 section
 * 7.5.2, PNG section 5.2, JFIF SOI marker, GIF89a, RIFF/WebP, ZIP APPNOTE 4.3.7).
 */
const SIGNATURES: ReadonlyArray<
  readonly [matches: (type: string) => boolean, check: (b: Buffer) => boolean]
> = [
  [(t) => t === 'application/pdf', (b) => startsWith(b, [0x25, 0x50, 0x44, 0x46, 0x2d])],
  [(t) => t === 'image/png', (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
  [(t) => t === 'image/jpeg', (b) => startsWith(b, [0xff, 0xd8, 0xff])],
  [(t) => t === 'image/gif', (b) => ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')],
  [(t) => t === 'image/webp', (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')],
  // ZIP containers: .zip, Office Open XML (.docx, .xlsx, .pptx), OpenDocument (.odt...), EPUB.
  [
    (t) =>
      t === 'application/zip' ||
      t.startsWith('application/vnd.openxmlformats-officedocument.') ||
      t.startsWith('application/vnd.oasis.opendocument.') ||
      t === 'application/epub+zip',
    ZIP,
  ],
];

/**
 * Whether the bytes can be a file of the declared type. Types with a known signature must carry it; a
 * `text/*` file must hold no NUL byte (binary content labelled as text); other types are taken as
 * declared, their admission being the form's allow-list.
 */
export function contentMatchesType(bytes: Buffer, contentType: string): boolean {
  const signature = SIGNATURES.find(([matches]) => matches(contentType));
  if (signature !== undefined) return signature[1](bytes);
  if (contentType.startsWith('text/')) return !bytes.includes(0);
  return true;
}

function startsWith(bytes: Buffer, prefix: ReadonlyArray<number>): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, index) => bytes[index] === byte);
}

function ascii(bytes: Buffer, offset: number, text: string): boolean {
  return (
    bytes.length >= offset + text.length && bytes.toString('latin1', offset, offset + text.length) === text
  );
}
