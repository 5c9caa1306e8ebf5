import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobNotFoundError } from '../core/errors';
import type { BlobStore } from '../core/ports';
import type { AwsClientOptions } from './aws-clients';
import { traceAwsCalls } from './xray-aws';

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

/**
 * The S3 client, here rather than with the other clients in aws-clients.ts: only this module uses it, and
 * the functions load this module by `import()` when a file needs the bucket, keeping S3 out of cold starts.
 */
export function createS3Client(options: AwsClientOptions): S3Client {
  const endpoint = options.endpoints?.s3;
  return traceAwsCalls(
    new S3Client({
      region: options.region,
      endpoint,
      credentials: options.credentials,
      // An emulator on loopback has no DNS for bucket subdomains: address buckets in the path there.
      forcePathStyle: endpoint !== undefined,
    }),
  );
}

/** The store for a bucket, with its own S3 client for the function's region. */
export function s3BlobStore(region: string, bucket: string): S3BlobStore {
  return new S3BlobStore(createS3Client({ region }), bucket);
}
