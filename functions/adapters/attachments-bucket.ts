import type { ArchiveFileWriter } from '../core/archive/submission-archive';
import type { BlobStore } from '../core/ports';

/**
 * The attachments bucket named by ATTACHMENTS_BUCKET; without it, files that need the bucket get 503.
 * Only files too large for a queue message go there (claim check), so the S3 client, a large part of a
 * function's code, is loaded by the first such file rather than at every cold start.
 */
export function blobStoreFromEnv(env: NodeJS.ProcessEnv, region: string): BlobStore | undefined {
  const bucket = env.ATTACHMENTS_BUCKET;
  if (!bucket) return undefined;
  let store: Promise<BlobStore> | undefined;
  const load = () => {
    store ??= import('./s3-blobs').then(({ s3BlobStore }) => s3BlobStore(region, bucket));
    return store;
  };
  return {
    put: async (key, bytes, contentType) => (await load()).put(key, bytes, contentType),
    get: async (key) => (await load()).get(key),
  };
}

/** Archived files (core/archive), in the same bucket under archive/: the S3 client loads with the first one. */
export function archiveFilesOnFirstUse(
  region: string,
  bucket: string,
  kmsKeyArn: string | undefined,
): ArchiveFileWriter {
  let files: Promise<ArchiveFileWriter> | undefined;
  return {
    put: async (key, bytes, contentType) => {
      files ??= Promise.all([import('./s3-blobs'), import('./s3-archive-files')]).then(
        ([{ createS3Client }, { S3ArchiveFiles }]) =>
          new S3ArchiveFiles(createS3Client({ region }), bucket, kmsKeyArn),
      );
      return (await files).put(key, bytes, contentType);
    },
  };
}
