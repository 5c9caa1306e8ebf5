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
