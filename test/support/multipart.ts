/** A part of a hand-written multipart/form-data body (RFC 7578). */
export type MultipartPart =
  | { readonly name: string; readonly value: string }
  | {
      readonly name: string;
      /** Omitted: no filename parameter at all, as a browser sends for an empty file input with `filename=""`. */
      readonly filename?: string;
      readonly contentType?: string;
      readonly content: Buffer;
    };

export const MULTIPART_BOUNDARY = '----postroom-files-boundary-5fK2w9';

/** Bytes of a multipart/form-data body, written by hand so a test controls every header of every part. */
export function multipartBody(parts: ReadonlyArray<MultipartPart>, boundary = MULTIPART_BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if ('value' in part) {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`,
        ),
      );
      continue;
    }
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
    const type = part.contentType === undefined ? '' : `\r\nContent-Type: ${part.contentType}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`,
      ),
      part.content,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export const MULTIPART_TYPE = `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`;

/** The first bytes of real files of each type, followed by `size` bytes in all (deterministic filler). */
export function sampleFile(kind: 'pdf' | 'png' | 'jpeg' | 'gif' | 'docx' | 'text', size = 1_000): Buffer {
  const magic: Record<typeof kind, Buffer> = {
    pdf: Buffer.from('%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n', 'latin1'),
    png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    gif: Buffer.from('GIF89a', 'latin1'),
    docx: Buffer.from([0x50, 0x4b, 0x03, 0x04]),
    text: Buffer.from('Plain text. '),
  };
  const head = magic[kind];
  const filler = Buffer.alloc(Math.max(0, size - head.length));
  // Every byte value (but NUL for text), so an encoding that mangles any byte shows up as a difference.
  for (let i = 0; i < filler.length; i += 1)
    filler[i] = kind === 'text' ? 0x20 + (i % 95) : (i * 31 + 7) % 256;
  return Buffer.concat([head, filler]).subarray(0, Math.max(size, head.length));
}
