import { randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../functions/adapters/s3-blobs';
import { LOCAL_NAMES } from '../../local/emulators';
import { shippedConfigInput } from '../fakes/config';
import {
  eventually,
  type SesEmail,
  sleep,
  startTestStack,
  type TestStack,
  testConfig,
} from '../support/local-stack';
import { sampleFile } from '../support/multipart';

/** What the SES emulator keeps of each attachment (mailparser's view of the delivered MIME). */
interface StoredAttachment {
  filename?: string;
  contentType: string;
  size: number;
  /** base64 */
  content: string;
}

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

describe('Pipeline: file uploads to attachments (fauxqs SQS + S3, aws-ses-v2-local, dynalite)', () => {
  let stack: TestStack;
  let s3: S3Client;

  beforeAll(async () => {
    const [contact] = shippedConfigInput().forms as Array<Record<string, unknown>>;
    stack = await startTestStack(
      testConfig({
        api: { maxBodyBytes: 3_000_000 },
        forms: [
          { ...contact, rateLimit: {} },
          {
            id: 'apply',
            recipients: ['jobs@example.com'],
            subject: 'Application from {{name}}',
            files: { allowedTypes: ['application/pdf', 'image/png'] },
          },
        ],
      }),
      { apiKey: API_KEY },
    );
    s3 = createS3Client({
      region: 'us-east-1',
      endpoints: { s3: stack.endpoints.s3 },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    s3?.destroy();
    await stack?.stop();
  });

  const post = (formId: string, marker: string, file: { bytes: Buffer; type: string; name: string }) => {
    const body = new FormData();
    body.set('email', 'applicant@example.org');
    body.set('name', 'Ada Applicant');
    body.set('message', `Application ${marker}`);
    body.set('cv', new Blob([file.bytes], { type: file.type }), file.name);
    return fetch(`${stack.apiUrl}/v1/forms/${formId}`, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body,
    });
  };

  const delivered = async (marker: string) => {
    const email = await eventually(
      async () => (await stack.sesEmails()).find((sent) => sent.body.text?.includes(marker)),
      10_000,
      marker,
    );
    return email as SesEmail & { attachments: StoredAttachment[] };
  };

  const objectKeys = async (prefix = 'attachments/') =>
    (
      (await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_NAMES.attachmentsBucket, Prefix: prefix })))
        .Contents ?? []
    ).map((object) => object.Key);

  const nothingSent = async (marker: string) => {
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
    await sleep(1_000);
    expect((await stack.sesEmails()).some((email) => email.body.text?.includes(marker))).toBe(false);
  };

  it('answers 422 for a type the form does not allow, and queues and stores nothing', async () => {
    const marker = randomUUID();
    const before = await objectKeys();

    const response = await post('apply', marker, {
      bytes: sampleFile('gif', 5_000),
      type: 'image/gif',
      name: 'me.gif',
    });

    expect(response.status).toBe(422);
    expect(((await response.json()) as { errors: unknown }).errors).toEqual([
      { field: 'cv', detail: 'type image/gif is not accepted; send application/pdf, image/png' },
    ]);
    await nothingSent(marker);
    expect(await objectKeys()).toEqual(before);
  });

  it('answers 422 for a file sent to a form that accepts none, and queues nothing', async () => {
    const marker = randomUUID();

    const response = await post('contact', marker, {
      bytes: sampleFile('pdf', 5_000),
      type: 'application/pdf',
      name: 'cv.pdf',
    });

    expect(response.status).toBe(422);
    expect(((await response.json()) as { errors: unknown }).errors).toEqual([
      { field: 'cv', detail: 'file uploads are not accepted by this form' },
    ]);
    await nothingSent(marker);
  });

  it('delivers a small PDF attached, carried inside the queue message', async () => {
    const marker = randomUUID();
    const pdf = sampleFile('pdf', 20_000);

    const response = await post('apply', marker, {
      bytes: pdf,
      type: 'application/pdf',
      name: 'Lebenslauf Müller.pdf',
    });

    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const email = await delivered(marker);
    expect(email.body.text).toContain('Lebenslauf Müller.pdf (application/pdf, 19.5 KiB)');
    expect(email.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
      ['Lebenslauf Müller.pdf', 'application/pdf', 20_000],
    ]);
    expect(Buffer.from(email.attachments[0]?.content ?? '', 'base64').equals(pdf)).toBe(true);
    expect(await objectKeys(`attachments/${id}/`)).toEqual([]);
  });

  it('sends a PDF over the inline limit through the bucket, and it arrives byte for byte', async () => {
    const marker = randomUUID();
    const pdf = sampleFile('pdf', 1_200_000);

    const response = await post('apply', marker, {
      bytes: pdf,
      type: 'application/pdf',
      name: 'portfolio.pdf',
    });

    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const stored = await s3.send(
      new GetObjectCommand({ Bucket: LOCAL_NAMES.attachmentsBucket, Key: `attachments/${id}/0` }),
    );
    expect(stored.ContentType).toBe('application/pdf');
    expect(Buffer.from(await (stored.Body?.transformToByteArray() ?? new Uint8Array())).equals(pdf)).toBe(
      true,
    );
    const email = await delivered(marker);
    expect(email.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
      ['portfolio.pdf', 'application/pdf', 1_200_000],
    ]);
    expect(Buffer.from(email.attachments[0]?.content ?? '', 'base64').equals(pdf)).toBe(true);
  });

  const sendApi = (marker: string, attachments: unknown) =>
    fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        from: 'Billing <billing@example.com>',
        to: 'customer@example.org',
        subject: `Invoice ${marker}`,
        text: `Your invoice ${marker}`,
        attachments,
      }),
    });

  it('attaches base64 files sent to /v1/send, small ones inline and large ones through the bucket', async () => {
    const small = sampleFile('pdf', 10_000);
    const large = sampleFile('pdf', 900_000);
    const smallMarker = randomUUID();
    const largeMarker = randomUUID();

    const smallResponse = await sendApi(smallMarker, [
      { filename: 'invoice.pdf', contentType: 'application/pdf', content: small.toString('base64') },
    ]);
    const largeResponse = await sendApi(largeMarker, [
      { filename: 'statement.pdf', contentType: 'application/pdf', content: large.toString('base64') },
    ]);

    expect([smallResponse.status, largeResponse.status]).toEqual([202, 202]);
    const { id: largeId } = (await largeResponse.json()) as { id: string };
    expect(await objectKeys(`attachments/${largeId}/`)).toEqual([`attachments/${largeId}/0`]);
    for (const [marker, name, bytes] of [
      [smallMarker, 'invoice.pdf', small],
      [largeMarker, 'statement.pdf', large],
    ] as const) {
      const email = await delivered(marker);
      expect(email.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
        [name, 'application/pdf', bytes.length],
      ]);
      expect(Buffer.from(email.attachments[0]?.content ?? '', 'base64').equals(bytes)).toBe(true);
    }
  });

  it('refuses an API attachment whose bytes are not its declared type, or whose name is a path, naming the field', async () => {
    const response = await sendApi(randomUUID(), [
      {
        filename: 'invoice.pdf',
        contentType: 'application/pdf',
        content: Buffer.from('MZ\x90\x00').toString('base64'),
      },
      {
        filename: '../../etc/passwd',
        contentType: 'text/plain',
        content: Buffer.from('x').toString('base64'),
      },
    ]);

    expect(response.status).toBe(422);
    const fields = ((await response.json()) as { errors: Array<{ field: string }> }).errors.map(
      (e) => e.field,
    );
    expect(fields).toEqual(['attachments[0].content', 'attachments[1].filename']);
  });
});
