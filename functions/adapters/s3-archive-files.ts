import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ArchiveFileAdmin } from '../core/archive/submission-archive';
import { BlobNotFoundError } from '../core/errors';

/**
 * Archived files in the attachments bucket under `archive/` (core/archive). Encrypted with the customer-managed
 * key when the configuration names one (archive.kmsKeyArn), else SSE-S3, asked for explicitly in each put as
 * s3-blobs.ts does. The bucket's lifecycle rules expire them with the form's retention.
 */
export class S3ArchiveFiles implements ArchiveFileAdmin {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly kmsKeyArn?: string | undefined,
  ) {}

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentType: contentType,
        ...(this.kmsKeyArn
          ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.kmsKeyArn, BucketKeyEnabled: true }
          : { ServerSideEncryption: 'AES256' }),
      }),
    );
  }

  async fetchArchived(key: string): Promise<Buffer> {
    const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (result.Body === undefined) throw new BlobNotFoundError(key);
    return Buffer.from(await result.Body.transformToByteArray());
  }

  async removeArchived(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
