import { randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../functions/adapters/aws-clients';
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
    expect(email.body.text).toContain('Lebenslauf Müller.pdf (19.5 KiB)');
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
});
