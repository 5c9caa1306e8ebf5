import {
  BlobNotFoundError,
  errorName,
  PermanentSendError,
  ServiceUnavailableError,
  TransientSendError,
} from '../errors';
import type { UploadedFile } from '../forms/form-body';
import type { BlobStore, Log } from '../ports';
import type { MailJob, MailJobAttachment } from './mail-job';

/**
 * The claim check for attachments. An SQS message holds at most 1 MiB, so small files ride inside the
 * MailJob and larger ones wait in the attachments bucket, the job carrying only their keys; the relay
 * fetches them before composing the mail.
 * https://www.enterpriseintegrationpatterns.com/patterns/messaging/StoreInLibrary.html
 */

/** The object key of a job's `index`-th attachment. */
/** Every attachment object lives under this prefix: the functions' S3 permissions are limited to it. */
export const ATTACHMENT_KEY_PREFIX = 'attachments/';

export function attachmentKey(jobId: string, index: number): string {
  return `${ATTACHMENT_KEY_PREFIX}${jobId}/${index}`;
}

export interface BlobUpload {
  readonly key: string;
  readonly bytes: Buffer;
  readonly contentType: string;
}

export interface AttachmentPlan {
  /** What the job carries; empty when there are no files. */
  readonly attachments: ReadonlyArray<MailJobAttachment>;
  /** What must be in the bucket before the job is queued. */
  readonly uploads: ReadonlyArray<BlobUpload>;
}

/** All files inline when together they fit `inlineMaxBytes`; otherwise all of them in the bucket. */
export function planAttachments(
  files: ReadonlyArray<UploadedFile>,
  jobId: string,
  inlineMaxBytes: number,
): AttachmentPlan {
  const total = files.reduce((sum, file) => sum + file.content.length, 0);
  if (total <= inlineMaxBytes) {
    return {
      attachments: files.map((file) => ({
        filename: file.filename,
        contentType: file.contentType,
        size: file.content.length,
        content: file.content.toString('base64'),
      })),
      uploads: [],
    };
  }
  const uploads = files.map((file, index) => ({
    key: attachmentKey(jobId, index),
    bytes: file.content,
    contentType: file.contentType,
  }));
  return {
    attachments: files.map((file, index) => ({
      filename: file.filename,
      contentType: file.contentType,
      size: file.content.length,
      blob: { key: attachmentKey(jobId, index) },
    })),
    uploads,
  };
}

/**
 * Puts the planned objects in the bucket; the job is queued only after every put succeeded, so a
 * relay never looks for an object that was not written. A failure answers 503: the visitor sends again
 * (objects already written expire with the bucket's lifecycle rule).
 */
export async function storeAttachments(
  uploads: ReadonlyArray<BlobUpload>,
  blobs: BlobStore | undefined,
  log: Log,
  context: Readonly<Record<string, string>>,
): Promise<void> {
  if (uploads.length === 0) return;
  if (blobs === undefined) {
    log.error('attachments need the attachments bucket, and none is configured', {
      ...context,
      outcome: 'no-blob-store',
    });
    throw new ServiceUnavailableError('Files this large cannot be accepted right now.', 60);
  }
  try {
    await Promise.all(uploads.map((upload) => blobs.put(upload.key, upload.bytes, upload.contentType)));
  } catch (error) {
    log.error('attachment upload failed', {
      ...context,
      outcome: 'blob-put-failed',
      error: errorName(error),
    });
    throw new ServiceUnavailableError('Mail cannot be accepted right now; try again shortly.', 5);
  }
}

/**
 * Fetches a job's bucket attachments, by key. A missing object will never appear (it expired, or the
 * job was forged), so the job fails for good; any other failure is retried.
 */
export async function fetchAttachments(
  job: MailJob,
  blobs: BlobStore | undefined,
): Promise<ReadonlyMap<string, Buffer>> {
  const stored = (job.attachments ?? []).flatMap((file) => ('blob' in file ? [file] : []));
  if (stored.length === 0) return new Map();
  // A relay deployed without the bucket is a configuration fault: retry until it is fixed, then the DLQ.
  if (blobs === undefined) throw new TransientSendError('attachment store not configured');
  const fetched = await Promise.all(
    stored.map(async (file) => {
      let bytes: Buffer;
      try {
        bytes = await blobs.get(file.blob.key);
      } catch (error) {
        if (error instanceof BlobNotFoundError)
          throw new PermanentSendError('attachment missing', { cause: error });
        throw new TransientSendError(`attachment fetch failed: ${errorName(error)}`, { cause: error });
      }
      if (bytes.length !== file.size) throw new PermanentSendError('attachment size mismatch');
      return [file.blob.key, bytes] as const;
    }),
  );
  return new Map(fetched);
}
