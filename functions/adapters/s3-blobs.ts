import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BlobNotFoundError } from '../core/errors';
import type { BlobStore } from '../core/ports';
import { createS3Client } from './aws-clients';

/**
 * Attachments too large for a queue message, in the attachments bucket. Each object is written with
 * SSE-S3 (AES256) asked for explicitly, so it is encrypted even under a bucket policy that checks the
 * header; the bucket's lifecycle rule expires them.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-s3-encryption.html
 */
export class S3BlobStore implements BlobStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentType: contentType,
        ServerSideEncryption: 'AES256',
      }),
    );
  }

  async get(key: string): Promise<Buffer> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (result.Body === undefined) throw new BlobNotFoundError(key);
      return Buffer.from(await result.Body.transformToByteArray());
    } catch (error) {
      // S3 answers NoSuchKey only to a caller allowed s3:ListBucket; without it a missing key is AccessDenied.
      if (error instanceof NoSuchKey || (error as { name?: unknown } | null)?.name === 'NoSuchKey')
        throw new BlobNotFoundError(key, { cause: error });
      throw error;
    }
  }
}

/** The attachments bucket named by ATTACHMENTS_BUCKET; without it, files that need the bucket get 503. */
export function blobStoreFromEnv(env: NodeJS.ProcessEnv, region: string): S3BlobStore | undefined {
  const bucket = env.ATTACHMENTS_BUCKET;
  return bucket ? new S3BlobStore(createS3Client({ region }), bucket) : undefined;
}
