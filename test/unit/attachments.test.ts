import { describe, expect, it } from 'vitest';
import type { PostroomConfig } from '../../functions/core/config/config';
import type { UploadedFile } from '../../functions/core/forms/form-body';
import { type SubmitFormDeps, submitForm } from '../../functions/core/forms/submit-form';
import type { HttpRequest } from '../../functions/core/http';
import { attachmentKey, planAttachments } from '../../functions/core/mail/attachments';
import {
  type MailJob,
  mailJobSchema,
  parseMailJob,
  serializeMailJob,
} from '../../functions/core/mail/mail-job';
import { configWith, contactJob, JOB_ID, shippedConfigInput } from '../fakes/config';
import {
  FakeClock,
  MemoryBlobStore,
  MemoryGuardStore,
  MemoryMailQueue,
  RecordingLog,
  RecordingMetrics,
  sequentialIds,
} from '../fakes/ports';
import { MULTIPART_TYPE, type MultipartPart, multipartBody, sampleFile } from '../support/multipart';
import { shippedCatalog } from '../support/templates';

const ID = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const INLINE_MAX = 4_000;

/** The shipped contact form, accepting PDFs and PNGs, with a small inline limit so tests stay small. */
function filesConfig(): PostroomConfig {
  const input = shippedConfigInput();
  const [form] = input.forms as Array<Record<string, unknown>>;
  return configWith({
    api: { maxBodyBytes: 200_000 },
    attachments: { inlineMaxBytes: INLINE_MAX },
    forms: [
      {
        ...form,
        rateLimit: {},
        content: { blockedWords: [] },
        files: {
          allowedTypes: ['application/pdf', 'image/png'],
          maxFileBytes: 50_000,
          maxTotalBytes: 60_000,
        },
      },
    ],
  });
}

function setup(withBlobs = true) {
  const blobs = new MemoryBlobStore();
  const deps = {
    config: filesConfig(),
    queue: new MemoryMailQueue(),
    clock: new FakeClock(),
    newId: sequentialIds(ID),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    guards: new MemoryGuardStore(),
    ...(withBlobs ? { blobs } : {}),
    templates: shippedCatalog,
  } satisfies SubmitFormDeps;
  return { deps, blobs };
}

function post(files: ReadonlyArray<MultipartPart>): HttpRequest {
  return {
    method: 'POST',
    headers: { 'content-type': MULTIPART_TYPE, accept: 'application/json' },
    body: multipartBody([
      { name: 'email', value: 'visitor@example.org' },
      { name: 'message', value: 'Please see the files.' },
      ...files,
    ]),
  };
}

const pdfPart = (size: number, filename = 'quote.pdf'): MultipartPart => ({
  name: 'attachment',
  filename,
  contentType: 'application/pdf',
  content: sampleFile('pdf', size),
});

function uploaded(size: number, filename = 'f.pdf'): UploadedFile {
  return { field: 'attachment', filename, contentType: 'application/pdf', content: sampleFile('pdf', size) };
}

describe('Core: planAttachments', () => {
  it('carries the files inline, base64, when together they fit the inline limit', () => {
    const files = [uploaded(1_000, 'a.pdf'), uploaded(3_000, 'b.pdf')];

    const plan = planAttachments(files, JOB_ID, 4_000);

    expect(plan.uploads).toEqual([]);
    expect(plan.attachments).toEqual([
      {
        filename: 'a.pdf',
        contentType: 'application/pdf',
        size: 1_000,
        content: files[0]?.content.toString('base64'),
      },
      {
        filename: 'b.pdf',
        contentType: 'application/pdf',
        size: 3_000,
        content: files[1]?.content.toString('base64'),
      },
    ]);
  });

  it('puts every file in the bucket under attachments/<job id>/<index> once the total is over the limit', () => {
    const files = [uploaded(1_000, 'a.pdf'), uploaded(3_001, 'b.pdf')];

    const plan = planAttachments(files, JOB_ID, 4_000);

    expect(plan.attachments).toEqual([
      {
        filename: 'a.pdf',
        contentType: 'application/pdf',
        size: 1_000,
        blob: { key: `attachments/${JOB_ID}/0` },
      },
      {
        filename: 'b.pdf',
        contentType: 'application/pdf',
        size: 3_001,
        blob: { key: `attachments/${JOB_ID}/1` },
      },
    ]);
    expect(plan.uploads.map((upload) => [upload.key, upload.bytes.length, upload.contentType])).toEqual([
      [attachmentKey(JOB_ID, 0), 1_000, 'application/pdf'],
      [attachmentKey(JOB_ID, 1), 3_001, 'application/pdf'],
    ]);
  });
});

describe('Core: MailJob attachments', () => {
  const base = () => contactJob().job;
  const inline = (content: Buffer, size = content.length) => ({
    filename: 'a.pdf',
    contentType: 'application/pdf',
    size,
    content: content.toString('base64'),
  });

  it('still reads a version-1 job written before attachments existed', () => {
    const job = base();
    expect('attachments' in job).toBe(false);
    expect(parseMailJob(JSON.stringify(job))).toEqual({ ok: true, job });
  });

  it('round-trips inline and bucket attachments', () => {
    const job: MailJob = {
      ...base(),
      attachments: [
        inline(sampleFile('pdf', 10)),
        { filename: 'b.png', contentType: 'image/png', size: 5, blob: { key: `attachments/${JOB_ID}/1` } },
      ],
    };
    expect(parseMailJob(serializeMailJob(job))).toEqual({ ok: true, job });
  });

  it('refuses inline content whose length is not the stated size', () => {
    const job = { ...base(), attachments: [inline(sampleFile('pdf', 10), 11)] };
    expect(mailJobSchema.safeParse(job).success).toBe(false);
  });

  it('refuses a bucket key that belongs to another job', () => {
    const other = '9a8b7c6d-5e4f-4321-8fed-cba987654321';
    const job = {
      ...base(),
      attachments: [
        { filename: 'b.png', contentType: 'image/png', size: 5, blob: { key: `attachments/${other}/0` } },
      ],
    };
    expect(parseMailJob(JSON.stringify(job))).toEqual({
      ok: false,
      reason: 'invalid-job: attachments names an attachment of another job',
    });
  });

  it('refuses an attachment file name with a path', () => {
    const job = { ...base(), attachments: [{ ...inline(sampleFile('pdf', 10)), filename: '../x.pdf' }] };
    expect(mailJobSchema.safeParse(job).success).toBe(false);
  });
});

describe('Core: submitForm with files', () => {
  it('queues a small file inline and lists it in the mail body', async () => {
    // Prepare
    const { deps, blobs } = setup();

    // Act
    const response = await submitForm('contact', post([pdfPart(2_000, 'quote.pdf')]), deps);

    // Assess
    expect(response.status).toBe(202);
    const job = deps.queue.jobs[0];
    expect(job?.attachments).toEqual([
      {
        filename: 'quote.pdf',
        contentType: 'application/pdf',
        size: 2_000,
        content: sampleFile('pdf', 2_000).toString('base64'),
      },
    ]);
    expect(job?.text).toContain('Attached files:\n- quote.pdf (application/pdf, 2.0 KiB)\n');
    expect(job?.html).toMatch(/<td class="file"[^>]*>quote\.pdf <span[^>]*>application\/pdf<\/span><\/td>/);
    expect(job?.html).toMatch(/<td class="file-size"[^>]*>2\.0 KiB<\/td>/);
    expect(blobs.calls).toEqual([]);
  });

  it('puts files over the inline limit in the bucket before queueing a job that references them', async () => {
    const { deps, blobs } = setup();

    const response = await submitForm(
      'contact',
      post([pdfPart(3_000, 'a.pdf'), { ...pdfPart(2_000, 'b.pdf'), name: 'second' }]),
      deps,
    );

    expect(response.status).toBe(202);
    expect(deps.queue.jobs[0]?.attachments).toEqual([
      {
        filename: 'a.pdf',
        contentType: 'application/pdf',
        size: 3_000,
        blob: { key: `attachments/${ID}/0` },
      },
      {
        filename: 'b.pdf',
        contentType: 'application/pdf',
        size: 2_000,
        blob: { key: `attachments/${ID}/1` },
      },
    ]);
    expect(blobs.objects.get(`attachments/${ID}/0`)?.bytes.equals(sampleFile('pdf', 3_000))).toBe(true);
    expect(blobs.objects.get(`attachments/${ID}/1`)?.contentType).toBe('application/pdf');
  });

  it('answers 503 and queues nothing when a put to the bucket fails', async () => {
    const { deps, blobs } = setup();
    blobs.failures.put = Object.assign(new Error('S3 is down'), { name: 'InternalError' });

    const response = await submitForm('contact', post([pdfPart(5_000)]), deps);

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(deps.queue.jobs).toEqual([]);
    expect(deps.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        attributes: expect.objectContaining({ outcome: 'blob-put-failed' }),
      }),
    );
  });

  it('answers 503 and logs it when files need the bucket and none is configured', async () => {
    const { deps } = setup(false);

    const response = await submitForm('contact', post([pdfPart(5_000)]), deps);

    expect(response.status).toBe(503);
    expect(deps.queue.jobs).toEqual([]);
    expect(deps.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        attributes: expect.objectContaining({ outcome: 'no-blob-store' }),
      }),
    );
  });

  it('still takes small files without a bucket', async () => {
    const { deps } = setup(false);
    const response = await submitForm('contact', post([pdfPart(1_000)]), deps);
    expect(response.status).toBe(202);
    expect(deps.queue.jobs[0]?.attachments).toHaveLength(1);
  });

  it('answers 422 and queues nothing for a type the form does not allow', async () => {
    const { deps, blobs } = setup();
    const gif: MultipartPart = {
      name: 'attachment',
      filename: 'a.gif',
      contentType: 'image/gif',
      content: sampleFile('gif'),
    };

    const response = await submitForm('contact', post([gif]), deps);

    expect(response.status).toBe(422);
    expect(JSON.parse(response.body).errors).toEqual([
      { field: 'attachment', detail: 'type image/gif is not accepted; send application/pdf, image/png' },
    ]);
    expect(deps.queue.jobs).toEqual([]);
    expect(blobs.calls).toEqual([]);
  });
});
